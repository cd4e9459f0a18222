"""The CLI's subcommands, one module per stage; `thresher.cli` registers them on the root group."""
