// Command runas starts a program as a given uid:gid, as the kubelet does for a container's
// runAsUser/runAsGroup (ctr run has no --user): supplementary groups come from the image's
// /etc/group for the uid's user name, as containerd's CRI plugin adds them. Used by
// e2e/images/check.sh, bind-mounted into the container; not part of any image.
//
//	runas UID:GID PROGRAM [ARG...]
package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
)

func main() {
	if len(os.Args) < 3 {
		fail("usage: runas UID:GID PROGRAM [ARG...]")
	}
	ids := strings.SplitN(os.Args[1], ":", 2)
	uid, err1 := strconv.Atoi(ids[0])
	gid := uid
	var err2 error
	if len(ids) == 2 {
		gid, err2 = strconv.Atoi(ids[1])
	}
	if err1 != nil || err2 != nil {
		fail("runas: bad UID:GID " + os.Args[1])
	}
	if os.Geteuid() != uid {
		groups := []int{gid}
		name, home := user(uid)
		if name != "" {
			groups = append(groups, memberOf(name)...)
		}
		// as runc does for the container's user: HOME from /etc/passwd unless the environment sets
		// one (the only HOME here, /root, is the one runc gave the root process)
		if h := os.Getenv("HOME"); h == "" || h == "/root" {
			if home == "" {
				home = "/"
			}
			os.Setenv("HOME", home)
		}
		if err := syscall.Setgroups(groups); err != nil {
			fail("runas: setgroups: " + err.Error())
		}
		if err := syscall.Setgid(gid); err != nil {
			fail("runas: setgid: " + err.Error())
		}
		if err := syscall.Setuid(uid); err != nil {
			fail("runas: setuid: " + err.Error())
		}
	}
	program, err := exec.LookPath(os.Args[2])
	if err != nil {
		fail("runas: " + err.Error())
	}
	if err := syscall.Exec(program, os.Args[2:], os.Environ()); err != nil {
		fail("runas: exec " + program + ": " + err.Error())
	}
}

// user is the name and home directory /etc/passwd gives uid, or "".
func user(uid int) (string, string) {
	for _, f := range records("/etc/passwd") {
		if len(f) > 5 && f[2] == strconv.Itoa(uid) {
			return f[0], f[5]
		}
	}
	return "", ""
}

// memberOf lists the gids of the /etc/group entries that name user as a member.
func memberOf(user string) []int {
	var gids []int
	for _, f := range records("/etc/group") {
		if len(f) < 4 {
			continue
		}
		for _, m := range strings.Split(f[3], ",") {
			if m == user {
				if g, err := strconv.Atoi(f[2]); err == nil {
					gids = append(gids, g)
				}
			}
		}
	}
	return gids
}

func records(path string) [][]string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out [][]string
	s := bufio.NewScanner(f)
	for s.Scan() {
		out = append(out, strings.Split(s.Text(), ":"))
	}
	return out
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, msg)
	os.Exit(127)
}
