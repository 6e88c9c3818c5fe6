"""Reference Flask server for symbiote-auth's tests; see README.md."""
