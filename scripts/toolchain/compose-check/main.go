// compose-check loads a Compose file with compose-go, the loader `docker compose` itself uses:
// the Compose specification's JSON schema, interpolation (a `${VAR:?message}` without a value
// is an error), and the model's own checks (undefined volumes, networks, depends_on). It prints
// the resolved project as JSON, with every profile enabled, or the loader's error and exit 1.
//
// Usage: compose-check FILE [NAME=VALUE ...]   (values for the file's variables, e.g. secrets)
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/compose-spec/compose-go/v2/cli"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: compose-check FILE [NAME=VALUE ...]")
		os.Exit(2)
	}
	file, err := filepath.Abs(os.Args[1])
	if err != nil {
		fail(err)
	}
	options, err := cli.NewProjectOptions(
		[]string{file},
		cli.WithWorkingDirectory(filepath.Dir(file)),
		cli.WithEnv(os.Args[2:]),
		cli.WithProfiles([]string{"*"}),
		cli.WithResolvedPaths(true),
	)
	if err != nil {
		fail(err)
	}
	project, err := options.LoadProject(context.Background())
	if err != nil {
		fail(err)
	}
	out, err := project.MarshalJSON()
	if err != nil {
		fail(err)
	}
	os.Stdout.Write(out)
	fmt.Println()
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "compose-check: %v\n", err)
	os.Exit(1)
}
