'use strict'
// The table `npm run bench` prints (Markdown, so it can go into docs/PERFORMANCE.md as is).

const { formatMs, formatBytes } = require('./common')

function formatValue(value, unit) {
  if (value === undefined || value === null) return '—'
  if (typeof value === 'string') return value
  switch (unit) {
    case 'ms':
      return formatMs(value)
    case 'bytes':
      return formatBytes(value)
    case 'MB':
      return `${value.toFixed(2)} MB`
    case 'count':
      return String(value)
    default:
      return `${value} ${unit ?? ''}`.trim()
  }
}

function ratioOf(line) {
  if (typeof line.ours !== 'number' || typeof line.baseline !== 'number' || line.baseline === 0) return '—'
  return `${(line.ours / line.baseline).toFixed(2)}x`
}

function markdownTable(header, rows) {
  const escapeCell = (cell) => String(cell).replace(/\|/g, '\\|')
  return [
    `| ${header.join(' | ')} |`,
    `|${header.map(() => '---').join('|')}|`,
    ...rows.map((row) => `| ${row.map(escapeCell).join(' | ')} |`),
  ].join('\n')
}

function lineCells(line) {
  if (line.error) return [line.id, line.title, `error: ${line.error}`, '', '', '', 'no']
  if (line.skipped) return [line.id, line.title, `skipped: ${line.skipped}`, '—', '—', line.target ?? '', 'skipped']
  return [
    line.id,
    line.title,
    formatValue(line.ours, line.unit),
    formatValue(line.baseline, line.baselineUnit ?? line.unit),
    line.ratio ?? ratioOf(line),
    line.target,
    line.met ? 'yes' : `**no**${line.miss ? ` (${line.miss})` : ''}`,
  ]
}

function summaryTable(results) {
  const rows = []
  for (const row of Object.values(results.rows)) {
    for (const line of row.lines ?? []) rows.push(lineCells(line))
  }
  return markdownTable(['#', 'benchmark', 'ours (median)', 'baseline (median)', 'ours / baseline', 'target', 'met'], rows)
}

function spreadTable(results) {
  const rows = []
  for (const [id, row] of Object.entries(results.rows)) {
    for (const m of row.measures ?? []) {
      rows.push([
        id,
        m.label,
        formatValue(m.median, m.unit),
        formatValue(m.p75, m.unit),
        formatValue(m.p99, m.unit),
        formatValue(m.mad, m.unit),
        m.n ?? '',
        m.calls ?? '',
      ])
    }
  }
  return markdownTable(['row', 'measure', 'median', 'p75', 'p99', 'MAD', 'samples', 'calls'], rows)
}

function notes(results) {
  const out = []
  for (const [id, row] of Object.entries(results.rows)) {
    for (const note of row.notes ?? []) out.push(`- row ${id}: ${note}`)
  }
  return out.join('\n')
}

function printTable(results) {
  const m = results.machine
  console.log(`\n## symbiote-auth benchmarks, ${results.date}`)
  console.log(
    `\n${m.nproc} cores (${m.cpuModel}), ${m.memoryGiB} GiB, ${m.platform} ${m.kernel}, Node ${m.node}, ${m.rustc}; load average ${m.loadAverage?.join(' ')} at start, ${m.loadAverageAtEnd?.join(' ')} at end\n`
  )
  console.log(summaryTable(results))
  console.log('\n### Spread (every measure)\n')
  console.log(spreadTable(results))
  const text = notes(results)
  if (text) console.log(`\n### Notes\n\n${text}`)
  console.log('')
}

module.exports = { printTable, summaryTable, spreadTable, formatValue }
