"""Local test accounts: a system user made on first use and kept, since
several suites share one (sapb1fs-ana runs as an analyst in both
tests/faults and tests/integration), each needing its own groups."""
import grp
import pwd
import subprocess


def member(user, group):
    """Make `group` and the no-login system user `user` if missing, and
    put the user in the group, whichever suite made the account first."""
    subprocess.run(["groupadd", "-f", group], check=True)
    try:
        pwd.getpwnam(user)
    except KeyError:
        subprocess.run(["useradd", "-r", "-M", "-s", "/usr/sbin/nologin",
                        "-G", group, user], check=True)
    if user not in grp.getgrnam(group).gr_mem:
        subprocess.run(["usermod", "-a", "-G", group, user], check=True)
    assert user in grp.getgrnam(group).gr_mem
