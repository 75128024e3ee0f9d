package main

import (
	"fmt"
	"io"
)

var notBuiltHelp = map[string]string{
	"fleet": "inventory checks, project placement, per-node configs and registration lists",
	"demo":  "run the whole constellation on loopback with embedded defaults",
}

// notBuilt answers for the commands that are planned but not built yet:
// -help says what they will do; anything else exits 2.
func notBuilt(name string, args []string, stdout, stderr io.Writer) int {
	for _, a := range args {
		if a == "-h" || a == "-help" || a == "--help" {
			fmt.Fprintf(stdout, "micromirror %s: %s.\nThis command is not built yet.\n", name, notBuiltHelp[name])
			return 0
		}
	}
	fmt.Fprintf(stderr, "micromirror %s: not built yet (%s)\n", name, notBuiltHelp[name])
	return 2
}
