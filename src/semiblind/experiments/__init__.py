"""One paper a module: data protocol, runs, tables beside the paper's figures."""
