#!/usr/bin/env python3
"""Give users and groups of an image root the ids its published image has (run inside the chroot).

  set-ids.py [group NAME GID] [user NAME UID GROUP HOME SHELL] [member GROUP USER] ...

`group` and `user` create the entry or change its id (and the user's primary group, home and shell);
an entry of another name that holds the id moves to a free id below 1000. `member` adds USER to
GROUP's member list (the image's supplementary groups). /etc/passwd, /etc/group, /etc/shadow and
/etc/gshadow are rewritten, then every file of the root owned by a changed id gets the new one, so
ownership follows names, as when the image's packages created the users with these ids.
"""
import os
import stat
import sys

FILES = {'passwd': '/etc/passwd', 'group': '/etc/group', 'shadow': '/etc/shadow', 'gshadow': '/etc/gshadow'}
SKIP = ('/proc', '/sys', '/dev')


def read(name):
    path = FILES[name]
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [line.rstrip('\n').split(':') for line in f if line.strip()]


def write(name, rows):
    path = FILES[name]
    if not rows and not os.path.exists(path):
        return
    st = os.stat(path) if os.path.exists(path) else None
    with open(path + '.new', 'w') as f:
        f.write(''.join(':'.join(r) + '\n' for r in rows))
    if st:
        os.chmod(path + '.new', stat.S_IMODE(st.st_mode))
        os.chown(path + '.new', st.st_uid, st.st_gid)
    os.replace(path + '.new', path)


def free_id(used):
    for i in range(999, 100, -1):
        if i not in used:
            return i
    raise SystemExit('set-ids: no free id below 1000')


def main(args):
    passwd, group, shadow, gshadow = read('passwd'), read('group'), read('shadow'), read('gshadow')
    old_uid = {r[0]: int(r[2]) for r in passwd}
    old_gid = {r[0]: int(r[2]) for r in group}

    def set_gid(name, gid):
        for r in group:
            if r[0] != name and int(r[2]) == gid:
                r[2] = str(free_id({int(x[2]) for x in group} | {gid}))
                print('set-ids: group {0} moves to gid {1}'.format(r[0], r[2]))
        for r in group:
            if r[0] == name:
                r[2] = str(gid)
                return
        group.append([name, 'x', str(gid), ''])
        gshadow.append([name, '!', '', ''])

    def set_uid(name, uid, grp, home, shell):
        gid = next(int(r[2]) for r in group if r[0] == grp)
        for r in passwd:
            if r[0] != name and int(r[2]) == uid:
                r[2] = str(free_id({int(x[2]) for x in passwd} | {uid}))
                print('set-ids: user {0} moves to uid {1}'.format(r[0], r[2]))
        for r in passwd:
            if r[0] == name:
                r[2], r[3], r[5], r[6] = str(uid), str(gid), home, shell
                return
        passwd.append([name, 'x', str(uid), str(gid), '', home, shell])
        shadow.append([name, '!', '', '', '', '', '', '', ''])

    def add_member(grp, user):
        for rows in (group, gshadow):
            for r in rows:
                if r[0] == grp:
                    members = [m for m in r[3].split(',') if m]
                    if user not in members:
                        r[3] = ','.join(members + [user])

    i = 0
    while i < len(args):
        op = args[i]
        if op == 'group':
            set_gid(args[i + 1], int(args[i + 2]))
            i += 3
        elif op == 'user':
            set_uid(args[i + 1], int(args[i + 2]), args[i + 3], args[i + 4], args[i + 5])
            i += 6
        elif op == 'member':
            add_member(args[i + 1], args[i + 2])
            i += 3
        else:
            raise SystemExit(__doc__)
    for name, rows in (('passwd', passwd), ('group', group), ('shadow', shadow), ('gshadow', gshadow)):
        write(name, rows)

    uid_map = {old_uid[r[0]]: int(r[2]) for r in passwd if r[0] in old_uid and old_uid[r[0]] != int(r[2])}
    gid_map = {old_gid[r[0]]: int(r[2]) for r in group if r[0] in old_gid and old_gid[r[0]] != int(r[2])}
    if not uid_map and not gid_map:
        return
    changed = 0
    for top, dirs, files in os.walk('/'):
        if top.startswith(SKIP) or top == '/tmp' or top.startswith('/tmp/'):
            dirs[:] = []
            continue
        for name in dirs + files:
            path = os.path.join(top, name)
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                continue
            uid, gid = uid_map.get(st.st_uid, st.st_uid), gid_map.get(st.st_gid, st.st_gid)
            if (uid, gid) != (st.st_uid, st.st_gid):
                mode = stat.S_IMODE(st.st_mode)
                os.lchown(path, uid, gid)
                if not stat.S_ISLNK(st.st_mode) and mode & 0o6000:
                    os.chmod(path, mode)  # chown clears setuid/setgid bits
                changed += 1
    print('set-ids: uids {0}, gids {1}: {2} files re-owned'.format(uid_map, gid_map, changed))


if __name__ == '__main__':
    main(sys.argv[1:])
