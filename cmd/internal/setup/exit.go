package setup

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/pgtier/pgtier/catalog"
	"github.com/pgtier/pgtier/configs"
	"github.com/pgtier/pgtier/crypto"
	"github.com/pgtier/pgtier/restore"
	"github.com/pgtier/pgtier/storage"
)

// Exit statuses, as documented for both commands.
const (
	ExitOK      = 0
	ExitFailed  = 1
	ExitUsage   = 2
	exitMessage = "error: "
)

// UsageError is bad input from the operator: a flag, a file, a key. The
// command prints it as one line and exits with status 2.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Usage marks err as the operator's input to fix; nil stays nil.
func Usage(err error) error {
	if err == nil {
		return nil
	}
	return &UsageError{Err: err}
}

// Usagef is Usage with a formatted message.
func Usagef(format string, args ...any) error {
	return &UsageError{Err: fmt.Errorf(format, args...)}
}

// ExitCode maps an error to the command's exit status.
func ExitCode(err error) int {
	var ue *UsageError
	var ce *configs.Error
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ue), errors.As(err, &ce):
		return ExitUsage
	default:
		return ExitFailed
	}
}

// Report prints err as one line on w and returns its exit status.
func Report(w io.Writer, err error) int {
	if err == nil {
		return ExitOK
	}
	fmt.Fprintln(w, exitMessage+oneLine(err.Error()))
	return ExitCode(err)
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// Classify marks the errors that are the operator's to fix (no such backup,
// a target that exists, an identity that cannot decrypt) as usage errors.
func Classify(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, catalog.ErrNoBackup), errors.Is(err, restore.ErrTargetExists),
		errors.Is(err, restore.ErrGlobalsNeedFile), crypto.IsNoIdentity(err):
		return Usage(err)
	case errors.Is(err, storage.ErrInvalidStorageClass):
		return Usagef("tiers.*.storage_class: %v; use a class the bucket supports, or \"\" for its default", err)
	}
	return err
}
