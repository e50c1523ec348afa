package cli

import (
	"context"
	"fmt"
	"io"
)

// The evaluation commands (issue: real image data and evaluation).

func runEval(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return fmt.Errorf("eval: not implemented yet")
}

func runSample(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return fmt.Errorf("sample: not implemented yet")
}

func runExperiment(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return fmt.Errorf("experiment: not implemented yet")
}
