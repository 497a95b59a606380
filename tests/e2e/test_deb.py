"""test_deb.py -- the .deb: `cpack -G DEB` from the build directory into a temporary directory,
`dpkg -i` it, the installed hookd, hookctl, man pages and bash completion work, `dpkg -r` removes
every file again. Needs root and dpkg (Debian; CI runs it so). CTest runs it alone
(RESOURCE_LOCK dpkg)."""
import os
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

BUILD = os.environ.get("HOOKD_BUILD_DIR")


def sh(*args, check=True, **kw):
    p = subprocess.run(list(args), capture_output=True, text=True, timeout=600, **kw)
    if check and p.returncode != 0:
        raise AssertionError("%s: exit %d\n%s\n%s" % (" ".join(args), p.returncode, p.stdout,
                                                       p.stderr))
    return p


def installed():
    p = sh("dpkg-query", "-W", "-f=${Status}", "hookd", check=False)
    return p.returncode == 0 and "ok installed" in p.stdout


@unittest.skipUnless(os.geteuid() == 0 and shutil.which("dpkg") and shutil.which("cpack") and BUILD,
                     "needs root, dpkg, cpack and HOOKD_BUILD_DIR")
class DebTest(unittest.TestCase):
    def setUp(self):
        self.assertFalse(installed(), "hookd is installed already: this test would replace it")
        self.tmp = tempfile.mkdtemp(prefix="hk-deb-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.addCleanup(lambda: installed() and sh("dpkg", "--purge", "hookd", check=False))
        sh("cpack", "-G", "DEB", "-B", self.tmp, cwd=BUILD)
        debs = [f for f in os.listdir(self.tmp) if f.endswith(".deb")]
        self.assertEqual(len(debs), 1, os.listdir(self.tmp))
        self.deb = os.path.join(self.tmp, debs[0])

    def test_install_use_remove(self):
        info = sh("dpkg-deb", "-f", self.deb, "Package", "Depends").stdout
        self.assertIn("Package: hookd", info)
        # From dpkg-shlibdeps: the libraries hookd is linked with, by their Debian names.
        for dep in ["libuv1", "libnghttp2-14", "libcurl4", "liblmdb0", "libsodium23",
                    "libprotobuf-c1"]:
            self.assertIn(dep, info)
        files = sh("dpkg-deb", "-c", self.deb).stdout
        for path in ["./usr/bin/hookd", "./usr/bin/hookctl", "./usr/share/man/man8/hookd.8",
                     "./usr/share/man/man1/hookctl.1",
                     "./usr/share/bash-completion/completions/hookctl"]:
            self.assertIn(path, files)

        sh("dpkg", "-i", self.deb)
        self.assertTrue(installed())
        self.assertEqual(sh("/usr/bin/hookd", "--version").stdout, "hookd 0.1.0\n")
        ctl = sh("/usr/bin/hookctl", "--help").stdout
        self.assertIn("delivery", ctl)
        # The maintainer script made the hookd user (sysusers.d or useradd).
        self.assertEqual(sh("getent", "passwd", "hookd", check=False).returncode, 0)
        for page in ["hookd.8", "hookctl.1"]:
            kind = page[-1]
            self.assertTrue(os.path.exists("/usr/share/man/man%s/%s" % (kind, page)))
            if shutil.which("man"):
                text = sh("man", "-P", "cat", "/usr/share/man/man%s/%s" % (kind, page),
                          env=dict(os.environ, MANWIDTH="80")).stdout
                self.assertIn(page.split(".")[0], text)
        if os.path.exists("/usr/share/bash-completion/bash_completion"):
            out = sh("bash", "-c", "source /usr/share/bash-completion/bash_completion; "
                     "source /usr/share/bash-completion/completions/hookctl; "
                     "COMP_WORDS=(hookctl deli); COMP_CWORD=1; COMP_LINE='hookctl deli'; "
                     "COMP_POINT=12; _hookctl; echo ${COMPREPLY[@]}").stdout
            self.assertEqual(out, "deliveries delivery\n")

        # The installed pair works: hookd on a temporary socket, hookctl against it.
        base = tempfile.mkdtemp(prefix="hk-deb-run-", dir=self.tmp)
        sock = os.path.join(base, "hookd.sock")
        with open(os.path.join(base, "log"), "wb") as log:
            proc = subprocess.Popen(["/usr/bin/hookd", "--socket", sock, "--data",
                                     os.path.join(base, "data")], stdout=log, stderr=log)
        try:
            end = time.time() + 15
            while True:
                try:
                    with socket.socket(socket.AF_UNIX) as s:
                        s.connect(sock)
                    break
                except OSError:
                    self.assertIsNone(proc.poll())
                    self.assertLess(time.time(), end)
                    time.sleep(0.05)
            out = sh("/usr/bin/hookctl", "--socket", sock, "list").stdout
            self.assertEqual(out, "NAME   APPLICATION   TRIGGER ACTION   ENDPOINT   STATUS\n")
        finally:
            proc.terminate()
            self.assertEqual(proc.wait(20), 0)

        sh("dpkg", "-r", "hookd")
        self.assertFalse(installed())
        for path in ["/usr/bin/hookd", "/usr/bin/hookctl", "/usr/share/man/man8/hookd.8",
                     "/usr/share/bash-completion/completions/hookctl"]:
            self.assertFalse(os.path.exists(path), path)


if __name__ == "__main__":
    unittest.main()
