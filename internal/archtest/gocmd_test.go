package archtest

import (
	"bytes"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// module is this repository's module path. The rules are written against it; TestModulePath
// makes sure go.mod agrees, so that a rename cannot leave the rules matching nothing.
const module = "etcq.dev/etcq"

var (
	rootOnce sync.Once
	rootDir  string
	rootErr  error
)

// moduleRoot returns the directory that holds go.mod, as the go command sees it.
func moduleRoot(t *testing.T) string {
	t.Helper()
	rootOnce.Do(func() {
		out, err := runGo("", "env", "GOMOD")
		gomod := strings.TrimSpace(string(out))
		switch {
		case err != nil:
			rootErr = err
		case gomod == "" || gomod == "/dev/null":
			rootErr = errors.New("not inside a module (go env GOMOD is empty)")
		default:
			rootDir = filepath.Dir(gomod)
		}
	})
	if rootErr != nil {
		t.Fatalf("locating the module root: %v", rootErr)
	}
	return rootDir
}

// goInRoot runs the go command in the module root and returns its standard output. It fails
// the test, with the command's standard error, if the command fails.
func goInRoot(t *testing.T, args ...string) []byte {
	t.Helper()
	out, err := runGo(moduleRoot(t), args...)
	if err != nil {
		t.Fatalf("go %s: %v", strings.Join(args, " "), err)
	}
	return out
}

// runGo runs `go args...` in dir ("" for the current directory). `go test` puts its own
// GOROOT/bin first on PATH, so the go found here is the one running the tests.
func runGo(dir string, args ...string) ([]byte, error) {
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%w\n%s", err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// TestModulePath guards the constant the rules are written against.
func TestModulePath(t *testing.T) {
	got := strings.TrimSpace(string(goInRoot(t, "list", "-m")))
	if got != module {
		t.Fatalf("go.mod declares module %q but the archtest rules are written for %q: update the module constant in %s",
			got, module, "internal/archtest/gocmd_test.go")
	}
}
