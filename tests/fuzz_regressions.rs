//! Replays every saved fuzz input through the same check the fuzzer ran (fuzz/checks.rs):
//! the seeds, and the inputs that once crashed a target (fuzz/regressions/<target>/, filled
//! by `npm run fuzz`). Runs on the normal toolchain, without libFuzzer.

#[path = "../fuzz/checks.rs"]
mod checks;

use std::path::Path;

fn replay(folder: &str) -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join(folder);
    let mut replayed = 0;
    for (target, check) in checks::TARGETS {
        let Ok(entries) = std::fs::read_dir(root.join(target)) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("a readable directory entry").path();
            let input = std::fs::read(&path).expect("a readable input file");
            let outcome = std::panic::catch_unwind(|| check(&input));
            assert!(
                outcome.is_ok(),
                "{target} fails on {} (see the panic above)",
                path.display()
            );
            replayed += 1;
        }
    }
    replayed
}

#[test]
fn seeds_pass_every_check() {
    assert!(replay("seeds") >= checks::TARGETS.len());
}

#[test]
fn inputs_that_once_crashed_a_target_pass_now() {
    replay("regressions");
}
