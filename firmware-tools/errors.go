package firmwaretools

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Every error the package returns for a bad input, a bad
// file or an unreachable board wraps one of them; check with errors.Is.
var (
	// ErrUsage marks a command-line mistake (exit status 2).
	ErrUsage = errors.New("firmwaretools: usage")
	// ErrNoDevice: a device id is missing, or names no device of the
	// topology (or no provisioned or bundled device).
	ErrNoDevice = errors.New("firmwaretools: no such device")
	// ErrArch: an architecture name is unknown, or a board cannot run the
	// bundle's architecture.
	ErrArch = errors.New("firmwaretools: unknown architecture")
	// ErrUnreachable: the board's SSH port could not be reached.
	ErrUnreachable = errors.New("firmwaretools: host unreachable")
	// ErrHostKey: the board's host key is not in known_hosts, or differs
	// from the one recorded there.
	ErrHostKey = errors.New("firmwaretools: host key not trusted")
	// ErrAuth: the board refused every key offered.
	ErrAuth = errors.New("firmwaretools: key refused")
	// ErrChecksum: a file's SHA-256 differs from its manifest's.
	ErrChecksum = errors.New("firmwaretools: checksum mismatch")
	// ErrRemote: a command on the board failed.
	ErrRemote = errors.New("firmwaretools: remote command failed")
	// ErrOffline: the device said it is offline and did not come back
	// online in time.
	ErrOffline = errors.New("firmwaretools: device offline")
	// ErrTimeout: the device did not report online in time.
	ErrTimeout = errors.New("firmwaretools: timed out")
	// ErrBundle: a bundle is malformed (not a bundle, or a file missing).
	ErrBundle = errors.New("firmwaretools: bad bundle")
	// ErrProvision: the topology does not allow the identity asked for.
	ErrProvision = errors.New("firmwaretools: cannot provision")
)

// DeviceError says which device id was wanted and where it was looked up.
type DeviceError struct {
	ID    string   // "" when the id is missing
	Where string   // the topology file, provision folder or bundle
	Known []string // the ids that exist there, for the message
}

func (e *DeviceError) Error() string {
	if e.ID == "" {
		return "firmwaretools: device id missing (give --id DEVICE)"
	}
	msg := fmt.Sprintf("firmwaretools: device %q is not in %s", e.ID, e.Where)
	if len(e.Known) > 0 {
		const show = 8
		known := e.Known
		more := ""
		if len(known) > show {
			known, more = known[:show], fmt.Sprintf(", … (%d in all)", len(e.Known))
		}
		msg += " (devices: " + strings.Join(known, ", ") + more + ")"
	}
	return msg
}

// Unwrap makes errors.Is(err, ErrNoDevice) true.
func (e *DeviceError) Unwrap() error { return ErrNoDevice }

// ArchError names an architecture that is unknown or does not fit a board.
type ArchError struct {
	Arch  string // as given
	Board string // the board's `uname -m`, when the bundle does not fit it
}

func (e *ArchError) Error() string {
	if e.Board != "" {
		return fmt.Sprintf("firmwaretools: bundle is for %s, the board reports %q (uname -m)", e.Arch, e.Board)
	}
	return fmt.Sprintf("firmwaretools: unknown architecture %q (want one of %s)", e.Arch, strings.Join(ArchNames(), ", "))
}

// Unwrap makes errors.Is(err, ErrArch) true.
func (e *ArchError) Unwrap() error { return ErrArch }

// HostError is a failure to reach or log in to a board.
type HostError struct {
	Host string // host:port
	Kind error  // ErrUnreachable, ErrHostKey or ErrAuth
	Err  error  // the cause
}

func (e *HostError) Error() string {
	what := strings.TrimPrefix(e.Kind.Error(), "firmwaretools: ")
	return fmt.Sprintf("firmwaretools: %s: %s: %v", e.Host, what, e.Err)
}

// Unwrap returns the kind and the cause.
func (e *HostError) Unwrap() []error { return []error{e.Kind, e.Err} }

// ChecksumError is a file whose SHA-256 is not the one its manifest lists.
type ChecksumError struct {
	File      string // path inside the bundle or build folder
	Want, Got string // hex; Got is "" when the file is missing
}

func (e *ChecksumError) Error() string {
	if e.Got == "" {
		return fmt.Sprintf("firmwaretools: checksum mismatch: %s: listed in the manifest but missing", e.File)
	}
	return fmt.Sprintf("firmwaretools: checksum mismatch: %s: manifest says %s, file has %s", e.File, e.Want, e.Got)
}

// Unwrap makes errors.Is(err, ErrChecksum) true.
func (e *ChecksumError) Unwrap() error { return ErrChecksum }

// RemoteError is a command that failed on the board.
type RemoteError struct {
	Host   string
	Cmd    string // what was run, for people (secrets are never in it)
	Status int    // exit status; -1 when the command did not exit normally
	Output string // the tail of its combined output
}

func (e *RemoteError) Error() string {
	out := strings.TrimSpace(e.Output)
	if out != "" {
		out = ":\n" + out
	}
	return fmt.Sprintf("firmwaretools: %s: %s: exit status %d%s", e.Host, e.Cmd, e.Status, out)
}

// Unwrap makes errors.Is(err, ErrRemote) true.
func (e *RemoteError) Unwrap() error { return ErrRemote }

// PresenceError says why a device was not seen online.
type PresenceError struct {
	Device string
	Topic  string
	Kind   error  // ErrTimeout or ErrOffline
	Last   string // the last state seen since the service started ("" if none)
	Waited string // how long we waited
}

func (e *PresenceError) Error() string {
	last := "no presence message since the service started"
	if e.Last != "" {
		last = "last presence: " + e.Last
	}
	what := "did not report online"
	if e.Kind == ErrOffline {
		what = "reported offline"
	}
	return fmt.Sprintf("firmwaretools: device %s %s within %s (%s on %s)", e.Device, what, e.Waited, last, e.Topic)
}

// Unwrap makes errors.Is(err, e.Kind) true.
func (e *PresenceError) Unwrap() error { return e.Kind }
