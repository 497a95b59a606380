"""test_readme.py -- README.md's snippets run as written against a real hookd.

Every ```python, ```js and ```c block opens with a comment naming its file; each is saved under
that name in a temporary directory that looks like the source tree (proto/ and build/ are links),
then every ```sh block runs there in README order with `sh -e`, HOME a fresh directory (so
`--prefix "$HOME/.local"` installs into it) and HOOKD_SOCKET=unix://<a test hookd's socket>:
the same variable the snippets document. (```console blocks are the two commands themselves and
what scripts/run prints; plain ``` blocks are transcripts.) Then the test checks what the
snippets did: the webhooks they made, the ids Node printed as strings, the event C fired."""
import os
import re
import shutil
import subprocess
import tempfile
import unittest

import docblocks
import harness
from harness import pb

SOURCE = docblocks.SOURCE_DIR
BUILD = os.environ.get("HOOKD_BUILD_DIR", os.path.join(SOURCE, "build"))
NODE_MODULES = os.path.join(SOURCE, "tests", "e2e", "node", "node_modules")
NAME = re.compile(r"^(?:#|//|/\*) ([\w.-]+\.(?:py|js|c)) -- ")


class ReadmeTest(harness.HookdTestCase):
    def setUp(self):
        super().setUp()
        self.dir = tempfile.mkdtemp(prefix="hk-readme-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        os.symlink(os.path.join(SOURCE, "proto"), os.path.join(self.dir, "proto"))
        os.symlink(BUILD, os.path.join(self.dir, "build"))
        self.home = os.path.join(self.dir, "home")
        os.mkdir(self.home)

    def test_every_snippet_runs(self):
        files = {}
        for lang in ["python", "js", "c"]:
            for block in docblocks.blocks("README.md", lang):
                m = NAME.match(block)
                self.assertIsNotNone(m, "a ```%s block without its file name:\n%s" % (lang, block))
                files[m.group(1)] = block
        self.assertEqual(sorted(files), ["crm.py", "hello.c", "list.js"])
        for name, block in files.items():
            with open(os.path.join(self.dir, name), "w") as f:
                f.write(block)

        scripts = docblocks.blocks("README.md", "sh")
        self.assertGreaterEqual(len(scripts), 5)
        # A Debian 12 login's PATH: `python3` is Debian's (with python3-grpcio), as the README
        # says, not a python a developer put first.
        env = dict(os.environ, HOME=self.home, HOOKD_SOCKET=self.hookd.target,
                   NODE_PATH=NODE_MODULES,
                   PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
        for var in ["PKG_CONFIG_PATH", "MANPATH", "PYTHONPATH", "COLUMNS"]:
            env.pop(var, None)
        with open(os.path.join(BUILD, "CMakeCache.txt")) as f:
            if "HK_SANITIZE:BOOL=ON" in f.read():
                # The libhookd under test is built with ASan; the README's program is not:
                # its runtime comes in with the library, after libc.
                env["ASAN_OPTIONS"] = "verify_asan_link_order=0:detect_leaks=0"
        # The snippets' exports carry over from one block to the next, as in one shell.
        outputs = []
        prelude = ""
        for script in scripts:
            p = subprocess.run(["sh", "-ec", prelude + script], cwd=self.dir, env=env,
                               capture_output=True, text=True, timeout=300)
            self.assertEqual(p.returncode, 0, "README snippet failed:\n%s\nstdout:\n%s\nstderr:\n%s"
                             % (script, p.stdout, p.stderr))
            outputs.append(p.stdout)
            prelude += "".join(l + "\n" for l in script.splitlines()
                               if l.startswith("export "))
        out = "\n".join(outputs)

        # Python made "CRM sync" and printed its id and secret.
        hooks = {w.name: w for w in self.stub.ListWebhooks(pb.ListWebhooksRequest()).webhooks}
        self.assertIn("CRM sync", hooks)
        self.assertRegex(out, r"(?m)^%d whsec_\S+$" % hooks["CRM sync"].id)
        # hookctl (installed under $HOME/.local) made crm-sync and listed both.
        self.assertIn("crm-sync", hooks)
        self.assertTrue(hooks["crm-sync"].asynchronous)
        self.assertRegex(out, r"(?m)^crm-sync +Enterprise +Account Update +"
                              r"https://crm\.example\.com/hooks +Active$")
        # curl made "ERP orders" in Connect JSON and listed it (ids as strings).
        self.assertIn("ERP orders", hooks)
        self.assertEqual(hooks["ERP orders"].application, pb.APPLICATION_ELITE)
        self.assertIn('"id":"%d","name":"ERP orders"' % hooks["ERP orders"].id, out)
        # Node printed ids as plain numbers in strings, not Long objects.
        self.assertNotIn("Long", out)
        self.assertRegex(out, r"(?m)^%d CRM sync AccountUpdated https://crm\.example\.com/hooks$"
                         % hooks["CRM sync"].id)
        # C fired AccountUpdated: the asynchronous crm-sync has a delivery of that event.
        m = re.search(r"(?m)^event (evt_\S+)$", out)
        self.assertIsNotNone(m, out)
        events = [d.event_id for d in self.stub.ListDeliveries(
            pb.ListDeliveriesRequest(webhook_name="crm-sync")).deliveries]
        self.assertIn(m.group(1), events)
        # The install put the man pages where MANPATH points.
        self.assertTrue(os.path.exists(os.path.join(self.home, ".local", "share", "man", "man1",
                                                    "hookctl.1")))


if __name__ == "__main__":
    unittest.main()
