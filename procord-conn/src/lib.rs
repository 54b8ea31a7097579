//! Poll-driven buffered connections (work in progress).
