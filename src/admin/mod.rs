//! Console and CLI commands.
