package cli

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/fedgan/fedgan/config"
	"github.com/fedgan/fedgan/internal/atomicfile"
	"github.com/fedgan/fedgan/internal/pwhash"
)

// passwdCommand writes password-file lines ("user:bcrypt-hash"), what the
// brokers' credentials files and the monitor's password_hash hold.
func passwdCommand(stdin io.Reader, stdout io.Writer) *cobra.Command {
	var file string
	var cost int
	cmd := &cobra.Command{
		Use:   "passwd [-f FILE] [--cost N] USER",
		Short: "hash a password: a password-file line, or a user added to (or changed in) a file",
		Long: `Reads a password (asked for twice on a terminal, else the first line of standard
input) and prints "USER:HASH" with a bcrypt hash, the line the brokers'
credentials files hold; the hash alone is what a topology's monitor.password_hash
takes. With -f FILE the user's line in FILE is replaced, or added, and the file
is written atomically (0600 when new). The brokers also accept the hashes of
Mosquitto's mosquitto_passwd ($7$ and $6$).`,
		Example: `  fedgan passwd monitor
  fedgan passwd -f edge-c1.passwd c1-d1 < c1-d1.secret`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return fmt.Errorf("%w: want one USER, got %d arguments", ErrUsage, len(args))
			}
			if u := args[0]; u == "" || strings.ContainsAny(u, ": \t\r\n#") {
				return fmt.Errorf("%w: user %q: a name without ':', '#' or spaces", ErrUsage, u)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			pw, err := readPassword(stdin, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			h, err := pwhash.Bcrypt(pw, cost)
			if err != nil {
				return err
			}
			line := args[0] + ":" + h
			if file == "" {
				_, err := fmt.Fprintln(stdout, line)
				return err
			}
			verb, err := setPasswordLine(file, args[0], line)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(stdout, "%s %s in %s\n", verb, args[0], file)
			return err
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "password file to add the user to (or change the user in)")
	cmd.Flags().IntVar(&cost, "cost", 0, "bcrypt cost (default 10; each step doubles the time of a login)")
	return cmd
}

// readPassword asks twice on a terminal (without echo), else reads the
// first line of r.
func readPassword(r io.Reader, prompt io.Writer) (string, error) {
	if f, ok := r.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(prompt, "Password: ")
		a, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(prompt)
		if err != nil {
			return "", err
		}
		fmt.Fprint(prompt, "Again: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(prompt)
		if err != nil {
			return "", err
		}
		if !bytes.Equal(a, b) {
			return "", errors.New("passwd: the passwords differ")
		}
		return checkPassword(string(a))
	}
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	return checkPassword(strings.TrimRight(line, "\r\n"))
}

func checkPassword(pw string) (string, error) {
	switch {
	case pw == "":
		return "", fmt.Errorf("%w: empty password", ErrUsage)
	case len(pw) > 72:
		return "", fmt.Errorf("%w: bcrypt reads at most 72 bytes of a password, this one has %d", ErrUsage, len(pw))
	}
	return pw, nil
}

// setPasswordLine replaces user's line in file with line, or appends it;
// the rest of the file stays as it was. It checks the result parses.
func setPasswordLine(file, user, line string) (verb string, err error) {
	old, err := os.ReadFile(file)
	mode := os.FileMode(0o600)
	switch {
	case errors.Is(err, os.ErrNotExist):
		verb = "added"
	case err != nil:
		return "", err
	default:
		if st, err := os.Stat(file); err == nil {
			mode = st.Mode().Perm()
		}
		if _, err := config.ParsePasswordFile(old, file); err != nil {
			return "", fmt.Errorf("passwd: %w (not changed)", err)
		}
	}
	var out []string
	for _, l := range strings.Split(strings.TrimRight(string(old), "\n"), "\n") {
		if u, _, ok := strings.Cut(strings.TrimSpace(l), ":"); ok && u == user && !strings.HasPrefix(strings.TrimSpace(l), "#") {
			if verb == "" {
				out = append(out, line)
				verb = "changed"
			}
			continue
		}
		if l != "" || len(out) > 0 {
			out = append(out, l)
		}
	}
	if verb != "changed" {
		out = append(out, line)
		verb = "added"
	}
	b := []byte(strings.Join(out, "\n") + "\n")
	if _, err := config.ParsePasswordFile(b, file); err != nil {
		return "", err
	}
	return verb, atomicfile.Write(file, b, mode)
}
