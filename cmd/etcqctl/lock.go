package main

import (
	"errors"
	"fmt"
	"os/exec"

	"github.com/spf13/cobra"

	"etcq.dev/etcq/quicclient"
)

func (a *app) lockCommand() *cobra.Command {
	var ttl int
	cmd := &cobra.Command{
		Use:   "lock <lockname> [exec-command arg1 arg2 ...]",
		Short: "Acquires a named lock",
		Long: `Acquires a named lock. Without a command, prints the lock's key once acquired and holds
the lock until interrupted (Ctrl-C), then releases it. With a command, runs it while
holding the lock, with the lock's key and revision in its environment (ETCQ_LOCK_KEY,
ETCQ_LOCK_REV, and etcdctl's ETCD_LOCK_KEY, ETCD_LOCK_REV), then releases the lock and
exits with the command's exit code. Put "--" before a command that has flags.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return failf(exitBadArgs, "lock takes a lock name argument and an optional command to execute")
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			defer c.Close()
			return a.lockUntilSignal(c, args[0], args[1:], int64(ttl))
		},
	}
	cmd.Flags().IntVarP(&ttl, "ttl", "", 10, "timeout for session")
	return cmd
}

func (a *app) lockUntilSignal(c *quicclient.Client, name string, cmdArgs []string, ttl int64) error {
	s, err := newSession(a.ctx, c, ttl)
	if err != nil {
		return fail(exitError, err)
	}
	defer func() {
		ctx, cancel := a.cleanupCtx()
		_ = s.close(ctx)
		cancel()
	}()
	m := newMutex(s, name)
	if err := m.lock(a.ctx); err != nil {
		if a.ctx.Err() != nil {
			return nil // interrupted while waiting: nothing held
		}
		return fail(exitError, err)
	}
	unlock := func() error {
		ctx, cancel := a.cleanupCtx()
		defer cancel()
		return m.unlock(ctx)
	}
	if len(cmdArgs) > 0 {
		cmd := exec.CommandContext(a.ctx, cmdArgs[0], cmdArgs[1:]...)
		cmd.Env = append(a.env.environ(),
			fmt.Sprintf("ETCQ_LOCK_KEY=%s", m.key), fmt.Sprintf("ETCQ_LOCK_REV=%d", m.hdr.Revision),
			fmt.Sprintf("ETCD_LOCK_KEY=%s", m.key), fmt.Sprintf("ETCD_LOCK_REV=%d", m.hdr.Revision))
		cmd.Stdin, cmd.Stdout, cmd.Stderr = a.stdin, a.stdout, a.stderr
		runErr := cmd.Run()
		unlockErr := unlock()
		var exitErr *exec.ExitError
		if errors.As(runErr, &exitErr) && exitErr.ExitCode() > 0 {
			return fail(exitErr.ExitCode(), nil)
		}
		if runErr != nil {
			return fail(exitError, runErr)
		}
		if unlockErr != nil {
			return fail(exitError, unlockErr)
		}
		return nil
	}
	ctx, cancel := a.commandCtx()
	k, err := c.Get(ctx, m.key)
	cancel()
	if err != nil {
		return fail(exitError, err)
	}
	if len(k.KVs) == 0 {
		return failf(exitError, "lock lost on init")
	}
	if err := a.display.Get(k); err != nil {
		return err
	}
	select {
	case <-a.ctx.Done():
		if err := unlock(); err != nil {
			return fail(exitError, err)
		}
		return nil
	case <-s.Done():
		return fail(exitError, errSessionExpired)
	}
}
