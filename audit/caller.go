package audit

import (
	"errors"
	"fmt"
	"os"
	"os/user"
)

// SetLocalCaller fills UID, OSUser and Host from the running process. It
// fills what it can and returns an error naming what it could not find out;
// the caller decides whether to go on (Append refuses a record without
// os_user or host).
func (r *Record) SetLocalCaller() error {
	r.UID = os.Getuid()
	var errs []error
	if u, err := user.Current(); err != nil {
		errs = append(errs, fmt.Errorf("looking up the user of uid %d: %w", r.UID, err))
	} else {
		r.OSUser = u.Username
	}
	if h, err := os.Hostname(); err != nil {
		errs = append(errs, fmt.Errorf("reading the host name: %w", err))
	} else {
		r.Host = h
	}
	return errors.Join(errs...)
}
