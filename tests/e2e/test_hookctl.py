"""test_hookctl.py -- hookctl end to end: every command against the real hookd, as an admin uses it.

Golden text for `list` and `show` (ids and times masked), parsed JSON for --json,
exit codes and stderr on failure, usage errors, the admin page's whole story,
and `cmake --install` + pkg-config for a product that links libhookd.
"""
import json
import os
import re
import shutil
import subprocess
import tempfile
import textwrap
import unittest

import harness
from harness import HOOKCTL_BIN, HookdTestCase

TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
COMMANDS = ["list", "show", "create", "edit", "activate", "deactivate", "delete", "actions",
            "trigger", "deliveries", "delivery", "redeliver", "help"]


def run(args, env=None, stdin=None):
    """Runs hookctl; returns (exit code, stdout, stderr)."""
    e = dict(os.environ)
    e.pop("HOOKD_SOCKET", None)
    e.update(env or {})
    p = subprocess.run([HOOKCTL_BIN] + list(args), env=e, input=stdin, capture_output=True,
                       timeout=120)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


class HookctlCase(HookdTestCase):
    def ctl(self, *args, **kw):
        """hookctl --socket <this hookd> ARGS...; returns (code, out, err)."""
        return run(["--socket", self.hookd.socket] + list(args), **kw)

    def ok(self, *args, **kw):
        code, out, err = self.ctl(*args, **kw)
        self.assertEqual(code, 0, "hookctl %s failed: %s" % (" ".join(args), err))
        self.assertEqual(err, "")
        return out

    def fails(self, status, *args, **kw):
        """Checks hookctl exits 1 with "hookctl: STATUS: message"; returns the message."""
        code, out, err = self.ctl(*args, **kw)
        self.assertEqual(code, 1, "stdout: %r stderr: %r" % (out, err))
        self.assertEqual(out, "")
        m = re.fullmatch(r"hookctl: ([A-Z_]+): (.+)\n", err)
        self.assertIsNotNone(m, err)
        self.assertEqual(m.group(1), status, err)
        return m.group(2)

    def usage_error(self, *args):
        """Checks hookctl exits 2 with a usage line on stderr; returns stderr."""
        code, out, err = self.ctl(*args)
        self.assertEqual(code, 2, "stdout: %r stderr: %r" % (out, err))
        self.assertEqual(out, "")
        self.assertRegex(err, r"(?m)^usage: hookctl ")
        return err

    def create(self, name, trigger="AccountUpdated", url=None, app="enterprise", *extra):
        url = url or "https://example.com/" + name
        return json.loads(self.ok("create", "--application", app, "--trigger", trigger,
                                  "--name", name, "--url", url, "--json", *extra))

    def list_json(self, *args):
        return json.loads(self.ok("list", "--json", *args))["webhooks"]


class ListTest(HookctlCase):
    def test_list_table_golden(self):
        self.assertEqual(self.ok("list"),
                         "NAME   APPLICATION   TRIGGER ACTION   ENDPOINT   STATUS\n")
        self.create("orders", "AccountUpdated", "https://example.com/orders")
        self.create("billing-sync", "InvoiceCreated", "https://billing.example.com/hooks/invoice",
                    "elite", "--inactive")
        self.create("café", "ContactCreated", "http://127.0.0.1:8080/x")
        # Columns as wide as their widest cell, in characters ("café" is 4);
        # trigger actions by their display names, as the page shows them.
        self.assertEqual(self.ok("list"), textwrap.dedent("""\
            NAME           APPLICATION   TRIGGER ACTION   ENDPOINT                                    STATUS
            orders         Enterprise    Account Update   https://example.com/orders                  Active
            billing-sync   Elite         Invoice Create   https://billing.example.com/hooks/invoice   Inactive
            café           Enterprise    Contact Create   http://127.0.0.1:8080/x                     Active
            """))

    def test_list_filters(self):
        self.create("a1", "AccountUpdated")
        self.create("a2", "ContactCreated")
        self.create("e1", "AccountUpdated", None, "elite", "--inactive")
        names = lambda *args: [w["name"] for w in self.list_json(*args)]
        self.assertEqual(names(), ["a1", "a2", "e1"])
        self.assertEqual(names("--application", "elite"), ["e1"])
        self.assertEqual(names("--application", "enterprise"), ["a1", "a2"])
        self.assertEqual(names("--trigger", "AccountUpdated"), ["a1", "e1"])
        self.assertEqual(names("--status", "inactive"), ["e1"])
        self.assertEqual(names("--status", "active", "--trigger", "AccountUpdated"), ["a1"])
        out = self.ok("list", "--status", "inactive")
        self.assertEqual(re.split(r" {3,}", out.splitlines()[1]),
                         ["e1", "Elite", "Account Update", "https://example.com/e1", "Inactive"])

    def test_list_json(self):
        made = self.create("orders", "AccountUpdated", "https://example.com/orders", "enterprise",
                           "--timeout", "30", "--async", "--description", "ERP \"orders\"\n")
        hooks = self.list_json()
        self.assertEqual(len(hooks), 1)
        w = hooks[0]
        self.assertEqual(w["id"], made["id"])
        self.assertEqual(w["name"], "orders")
        self.assertEqual(w["application"], "enterprise")
        self.assertEqual(w["trigger_action"], "AccountUpdated")
        self.assertEqual(w["url"], "https://example.com/orders")
        self.assertEqual(w["auth_method"], "oauth")
        self.assertEqual(w["timeout_seconds"], 30)
        self.assertIs(w["asynchronous"], True)
        self.assertIs(w["ignore_for_api"], False)
        self.assertIs(w["active"], True)
        self.assertEqual(w["description"], "ERP \"orders\"\n")  # escaped and back
        self.assertNotEqual(w["secret_key"], made["secret_key"])  # masked in lists
        self.assertIsInstance(w["create_time"], int)

    def test_many_pages(self):
        for i in range(25):
            self.create("hook-%02d" % i)
        self.assertEqual(len(self.list_json()), 25)
        self.assertEqual(len(self.ok("list").splitlines()), 26)


class ShowCreateTest(HookctlCase):
    SHOW = textwrap.dedent("""\
        Name:                  orders
        ID:                    <ID>
        Application:           Enterprise
        Trigger Action:        Account Update (AccountUpdated)
        Web Service URL:       https://example.com/orders
        Authentication Method: OAuth
        Timeout:               15 seconds
        Secret Key:            <SECRET>
        Asynchronous:          No
        Ignore for API:        No
        Status:                Active
        Description:           Order updates for the ERP
        Created:               <TIME>
        Updated:               <TIME>
        """)

    def masked(self, text, webhook_id):
        text = TIME.sub("<TIME>", text)
        return re.sub(r"(?m)^ID:( +)%d$" % webhook_id, r"ID:\1<ID>", text)

    def test_create_prints_the_secret_once(self):
        out = self.ok("create", "--application", "enterprise", "--trigger", "AccountUpdated",
                      "--name", "orders", "--url", "https://example.com/orders",
                      "--description", "Order updates for the ERP")
        secret = re.search(r"(?m)^Secret Key: +(\S+)$", out).group(1)
        self.assertRegex(secret, r"^whsec_[A-Za-z0-9+/]{43}=$")  # base64 of 32 bytes
        webhook_id = int(re.search(r"(?m)^ID: +(\d+)$", out).group(1))
        self.assertEqual(self.masked(out, webhook_id).replace(secret, "<SECRET>"), self.SHOW)

        shown = self.ok("show", "orders")
        self.assertNotIn(secret, shown)
        self.assertEqual(self.masked(shown, webhook_id),
                         self.SHOW.replace("<SECRET>", "whsec_********"))
        self.assertIn("Secret Key:            %s\n" % secret,
                      self.ok("show", "orders", "--reveal-secret"))

    def test_create_every_option(self):
        w = self.create("full", "BookingCreated", "https://example.com/b", "elite",
                        "--timeout", "600", "--secret", "my-own-secret-key-123", "--async",
                        "--ignore-for-api", "--inactive", "--description", "all of it")
        self.assertEqual(w["application"], "elite")
        self.assertEqual(w["trigger_action"], "BookingCreated")
        self.assertEqual(w["timeout_seconds"], 600)
        self.assertEqual(w["secret_key"], "my-own-secret-key-123")
        self.assertIs(w["asynchronous"], True)
        self.assertIs(w["ignore_for_api"], True)
        self.assertIs(w["active"], False)
        self.assertEqual(w["description"], "all of it")
        out = self.ok("show", "full")
        for line in ["Application:           Elite", "Timeout:               600 seconds",
                     "Asynchronous:          Yes", "Ignore for API:        Yes",
                     "Status:                Inactive", "Description:           all of it"]:
            self.assertIn(line + "\n", out)

    def test_show_json(self):
        made = self.create("orders")
        w = json.loads(self.ok("show", "orders", "--json"))
        self.assertEqual(w["id"], made["id"])
        self.assertEqual(w["secret_key"], "whsec_********")
        self.assertEqual(w["timeout_seconds"], 15)
        w = json.loads(self.ok("show", "--json", "--reveal-secret", "ORDERS"))
        self.assertEqual(w["secret_key"], made["secret_key"])

    def test_create_refusals(self):
        msg = self.fails("INVALID_ARGUMENT", "create", "--application", "enterprise", "--trigger",
                         "AccountUpdated", "--name", "x", "--url", "ftp://example.com/")
        self.assertIn("url", msg)
        msg = self.fails("INVALID_ARGUMENT", "create", "--application", "enterprise", "--trigger",
                         "AccountUpdated", "--name", "x", "--url", "https://e.com/", "--timeout",
                         "0")
        self.assertIn("timeout", msg)
        msg = self.fails("INVALID_ARGUMENT", "create", "--application", "elite", "--trigger",
                         "NoSuchAction", "--name", "x", "--url", "https://e.com/")
        self.assertIn("trigger_action", msg)
        self.create("taken")
        self.fails("ALREADY_EXISTS", "create", "--application", "enterprise", "--trigger",
                   "AccountUpdated", "--name", "TAKEN", "--url", "https://e.com/")
        # Required flags are checked before anything is sent.
        err = self.usage_error("create", "--application", "enterprise", "--trigger", "A",
                               "--url", "https://e.com/")
        self.assertIn("--name is required", err)
        self.assertIn("unknown option '--colour'",
                      self.usage_error("create", "--colour", "red"))
        self.assertIn("--application wants enterprise or elite, not 'erp'",
                      self.usage_error("create", "--application", "erp"))
        self.assertIn("--timeout wants a number of seconds",
                      self.usage_error("create", "--timeout", "soon"))

    def test_show_missing(self):
        msg = self.fails("NOT_FOUND", "show", "nobody")
        self.assertIn("nobody", msg)
        self.assertIn("missing the webhook NAME", self.usage_error("show"))
        self.assertIn("unexpected argument 'b'", self.usage_error("show", "a", "b"))


class EditTest(HookctlCase):
    def test_edit_fields(self):
        self.create("orders")
        w = json.loads(self.ok("edit", "orders", "--timeout", "45", "--async", "--ignore-for-api",
                               "--description", "new text", "--trigger", "OrderCreated",
                               "--json"))
        self.assertEqual((w["timeout_seconds"], w["asynchronous"], w["ignore_for_api"],
                          w["description"], w["trigger_action"]),
                         (45, True, True, "new text", "OrderCreated"))
        w = json.loads(self.ok("edit", "orders", "--sync", "--no-ignore-for-api", "--json"))
        self.assertEqual((w["asynchronous"], w["ignore_for_api"], w["timeout_seconds"]),
                         (False, False, 45))
        out = self.ok("edit", "orders", "--url", "https://example.com/v2")
        self.assertIn("Web Service URL:       https://example.com/v2\n", out)

    def test_edit_secret(self):
        made = self.create("orders")
        self.ok("edit", "orders", "--secret", "a-brand-new-secret-value")
        w = json.loads(self.ok("show", "orders", "--reveal-secret", "--json"))
        self.assertEqual(w["secret_key"], "a-brand-new-secret-value")
        self.ok("edit", "orders", "--secret", "")  # empty: hookd generates one
        w = json.loads(self.ok("show", "orders", "--reveal-secret", "--json"))
        self.assertTrue(w["secret_key"].startswith("whsec_"))
        self.assertNotEqual(w["secret_key"], made["secret_key"])

    def test_application_and_auth_method_cannot_change(self):
        self.create("orders")
        msg = self.fails("FAILED_PRECONDITION", "edit", "orders", "--application", "elite")
        self.assertIn("application", msg)
        # Refused as a whole: the other change in the same edit did not happen.
        self.fails("FAILED_PRECONDITION", "edit", "orders", "--application", "elite",
                   "--timeout", "99")
        w = json.loads(self.ok("show", "orders", "--json"))
        self.assertEqual((w["application"], w["timeout_seconds"]), ("enterprise", 15))
        # The current values may be named; there is no other auth method to name.
        self.ok("edit", "orders", "--application", "enterprise", "--auth-method", "oauth")
        self.assertIn("--auth-method wants oauth",
                      self.usage_error("edit", "orders", "--auth-method", "basic"))

    def test_edit_missing_and_conflict(self):
        self.create("a")
        self.create("b")
        self.fails("NOT_FOUND", "edit", "nobody", "--timeout", "20")
        self.fails("ALREADY_EXISTS", "edit", "a", "--name", "B")
        self.fails("INVALID_ARGUMENT", "edit", "a", "--timeout", "601")


class ActiveDeleteTest(HookctlCase):
    def test_activate_deactivate(self):
        self.create("orders")
        self.assertEqual(self.ok("deactivate", "orders"), 'Webhook "orders" is now Inactive.\n')
        self.assertIs(json.loads(self.ok("show", "orders", "--json"))["active"], False)
        self.assertEqual(self.ok("activate", "orders"), 'Webhook "orders" is now Active.\n')
        w = json.loads(self.ok("deactivate", "orders", "--json"))
        self.assertIs(w["active"], False)
        self.fails("NOT_FOUND", "activate", "nobody")
        self.usage_error("activate")

    def test_delete(self):
        made = self.create("orders", "AccountUpdated", "https://example.com/orders")
        self.assertEqual(self.ok("delete", "orders"),
                         'Deleted webhook "orders" (id %d, AccountUpdated, '
                         'https://example.com/orders).\n' % made["id"])
        self.assertEqual(self.list_json(), [])
        self.fails("NOT_FOUND", "delete", "orders")
        self.create("again")
        self.assertEqual(json.loads(self.ok("delete", "again", "--json"))["name"], "again")


class ActionsTest(HookctlCase):
    def test_actions(self):
        out = self.ok("actions")
        lines = out.splitlines()
        self.assertRegex(lines[0], r"^APPLICATION +TRIGGER ACTION +DISPLAY NAME$")
        self.assertIn(["Enterprise", "AccountUpdated", "Account", "Update"],
                      [l.split() for l in lines[1:]])
        elite = self.ok("actions", "--application", "elite").splitlines()[1:]
        self.assertTrue(elite and all(l.startswith("Elite ") for l in elite), elite)
        data = json.loads(self.ok("actions", "--json", "--application", "enterprise"))
        keys = {(a["application"], a["key"]): a["display_name"] for a in data["trigger_actions"]}
        self.assertEqual(keys[("enterprise", "AccountUpdated")], "Account Update")
        self.assertTrue(all(app == "enterprise" for app, _ in keys))


class EventCommandsTest(HookctlCase):
    """trigger, deliveries and redeliver: their flags and the answers hookd
    gives without a receiver (test_hookctl_delivery covers them delivering)."""

    def answered(self, *args):
        code, out, err = self.ctl(*args)
        self.assertEqual(code, 0, err)
        return out

    def test_trigger(self):
        out = self.answered("trigger", "--application", "elite", "--action", "AccountUpdated",
                            "--payload", '{"accountId": 42}', "--origin", "api")
        self.assertRegex(out, r"^Event \S+\nNo active webhook has this trigger action\.\n$")
        path = os.path.join(self.hookd.base, "payload.json")
        with open(path, "w") as f:
            f.write('{"from": "a file"}')
        out = self.answered("trigger", "--application", "elite", "--action", "AccountUpdated",
                            "--payload", "@" + path, "--event-id", "evt-1", "--json")
        self.assertEqual(json.loads(out)["event_id"], "evt-1")
        self.assertIn("--action is required",
                      self.usage_error("trigger", "--application", "elite"))
        self.assertIn("--origin wants user or api",
                      self.usage_error("trigger", "--application", "elite", "--action", "A",
                                       "--origin", "robot"))
        code, out, err = self.ctl("trigger", "--application", "elite", "--action", "A",
                                  "--payload", "@/nonexistent/payload.json")
        self.assertEqual(code, 2)
        self.assertIn("/nonexistent/payload.json", err)

    def test_deliveries_and_redeliver(self):
        self.create("orders")
        out = self.answered("deliveries")
        self.assertRegex(out.splitlines()[0], r"^ID +WEBHOOK +TRIGGER ACTION +STATE +ATTEMPTS +"
                         r"LAST STATUS +NEXT ATTEMPT +CREATED +LAST ERROR$")
        out = self.answered("deliveries", "orders", "--state", "failed", "--json")
        self.assertEqual(json.loads(out).get("deliveries", []), [])
        self.assertIn("--state wants pending, succeeded, failed or cancelled",
                      self.usage_error("deliveries", "--state", "lost"))
        code, out, err = self.ctl("redeliver", "424242")
        self.assertEqual(code, 1)
        self.assertRegex(err, r"^hookctl: NOT_FOUND: .+\n$")
        self.assertIn("ID wants a delivery id", self.usage_error("redeliver", "abc"))
        self.assertIn("missing the delivery ID", self.usage_error("redeliver"))


class UsageTest(HookctlCase):
    def test_help(self):
        code, out, err = run(["--help"])
        self.assertEqual((code, err), (0, ""))
        for name in COMMANDS:
            self.assertRegex(out, r"(?m)^  %s +\S" % name)
        for name in COMMANDS:
            code, out, err = run([name, "--help"])
            self.assertEqual((code, err), (0, ""), name)
            self.assertTrue(out.startswith("usage: hookctl %s" % name), out)
            self.assertIn("--json", out)
            self.assertIn("--socket", out)

    def test_bad_usage(self):
        for args, why in [([], "no command given"), (["frobnicate"], "unknown command"),
                          (["--bogus", "list"], "unknown option '--bogus'"),
                          (["list", "--bogus"], "unknown option '--bogus'"),
                          (["list", "extra"], "unexpected argument 'extra'"),
                          (["list", "--status"], "needs a value"),
                          (["list", "--status", "sleeping"], "--status wants active or inactive"),
                          (["list", "-x"], "unknown option '-x'")]:
            code, out, err = run(["--socket", self.hookd.socket] + args)
            self.assertEqual(code, 2, (args, err))
            self.assertEqual(out, "")
            self.assertIn(why, err)
            self.assertRegex(err, r"(?m)^usage: hookctl ")


class SocketTest(HookctlCase):
    def test_socket_from_flag_env_and_default(self):
        self.create("orders")
        # HOOKD_SOCKET, and --socket after the command.
        code, out, err = run(["list"], env={"HOOKD_SOCKET": self.hookd.socket})
        self.assertEqual((code, err), (0, ""))
        self.assertIn("orders", out)
        code, out, err = run(["show", "orders", "--socket", self.hookd.socket],
                             env={"HOOKD_SOCKET": "/nonexistent/hookd.sock"})
        self.assertEqual((code, err), (0, ""))
        # Neither: hookd's default path under $HOME, where nothing listens.
        home = tempfile.mkdtemp(prefix="hk-home-")
        self.addCleanup(shutil.rmtree, home, True)
        code, out, err = run(["list"], env={"HOME": home})
        self.assertEqual(code, 1)
        default = "/var/lib/hookd/hookd.sock" if os.getuid() == 0 else home + "/.hookd/hookd.sock"
        self.assertRegex(err, r"^hookctl: UNAVAILABLE: .*%s" % re.escape(default))

    def test_unavailable(self):
        path = os.path.join(self.hookd.base, "absent.sock")
        for args in [["list"], ["show", "x"], ["actions", "--json"], ["delete", "x"]]:
            code, out, err = run(["--socket", path] + args)
            self.assertEqual((code, out), (1, ""), args)
            self.assertRegex(err, r"^hookctl: UNAVAILABLE: cannot connect to hookd at %s: .+\n$"
                             % re.escape(path))


class AdminStoryTest(HookctlCase):
    """The admin page, start to end, through hookctl alone."""

    def row(self, name):
        for line in self.ok("list").splitlines()[1:]:
            cells = re.split(r" {3,}", line)
            if cells[0] == name:
                return cells
        return None

    def test_story(self):
        # Create Webhook: application, trigger action, name, URL, then Save.
        out = self.ok("create", "--application", "enterprise", "--trigger", "AccountUpdated",
                      "--name", "crm-sync", "--url", "https://crm.example.com/hooks")
        self.assertIn("Status:                Active\n", out)
        self.assertEqual(self.row("crm-sync"), ["crm-sync", "Enterprise", "Account Update",
                                                "https://crm.example.com/hooks", "Active"])

        # View Details Page.
        out = self.ok("show", "crm-sync")
        self.assertIn("Timeout:               15 seconds\n", out)
        self.assertIn("Asynchronous:          No\n", out)

        # Edit Webhook: rename, URL, timeout, asynchronous.
        self.ok("edit", "crm-sync", "--name", "crm-sync-v2", "--url",
                "https://crm.example.com/hooks/v2", "--timeout", "60", "--async")
        self.assertIsNone(self.row("crm-sync"))
        self.assertEqual(self.row("crm-sync-v2"), ["crm-sync-v2", "Enterprise", "Account Update",
                                                   "https://crm.example.com/hooks/v2", "Active"])
        out = self.ok("show", "crm-sync-v2")
        self.assertIn("Timeout:               60 seconds\n", out)
        self.assertIn("Asynchronous:          Yes\n", out)
        self.assertIn("Web Service URL:       https://crm.example.com/hooks/v2\n", out)
        self.fails("NOT_FOUND", "show", "crm-sync")

        # Inactivate: the list says Inactive; activate again.
        self.ok("deactivate", "crm-sync-v2")
        self.assertEqual(self.row("crm-sync-v2")[4], "Inactive")
        self.ok("activate", "crm-sync-v2")
        self.assertEqual(self.row("crm-sync-v2")[4], "Active")

        # Delete Webhook: no confirmation, gone from the list.
        self.assertTrue(self.ok("delete", "crm-sync-v2").startswith('Deleted webhook "crm-sync-v2"'))
        self.assertIsNone(self.row("crm-sync-v2"))
        self.assertEqual(self.ok("list"),
                         "NAME   APPLICATION   TRIGGER ACTION   ENDPOINT   STATUS\n")


class InstallTest(unittest.TestCase):
    """`cmake --install` puts everything in place and a product links libhookd
    with pkg-config: builds examples/trigger.c against the installed tree."""

    def test_install_and_link(self):
        build = os.environ.get("HOOKD_BUILD_DIR")
        source = os.environ.get("HOOKD_SOURCE_DIR")
        if not build or not source or not shutil.which("pkg-config") or not shutil.which("cc"):
            self.skipTest("needs HOOKD_BUILD_DIR, HOOKD_SOURCE_DIR, pkg-config and cc")
        prefix = tempfile.mkdtemp(prefix="hk-install-")
        self.addCleanup(shutil.rmtree, prefix, True)
        subprocess.run(["cmake", "--install", build, "--prefix", prefix], check=True,
                       capture_output=True, timeout=300)
        with open(os.path.join(build, "CMakeCache.txt")) as f:
            cache = f.read()
        libdir = re.search(r"(?m)^CMAKE_INSTALL_LIBDIR:PATH=(.*)$", cache).group(1)
        for path in ["bin/hookd", "bin/hookctl", "include/hookd/client.h",
                     "include/hookd/v1/webhooks.pb-c.h", libdir + "/libhookd.so",
                     libdir + "/pkgconfig/hookd.pc"]:
            self.assertTrue(os.path.exists(os.path.join(prefix, path)), path)

        env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(prefix, libdir, "pkgconfig"))
        flags = subprocess.run(["pkg-config", "--cflags", "--libs", "hookd"], env=env, check=True,
                               capture_output=True, text=True).stdout.split()
        self.assertIn("-lhookd", flags)
        self.assertIn("-I" + os.path.join(prefix, "include"), flags)
        sanitize = ["-fsanitize=address,undefined"] if "HK_SANITIZE:BOOL=ON" in cache else []
        exe = os.path.join(prefix, "trigger")
        cc = subprocess.run(["cc", "-Wall", "-Wextra", "-Werror"] + sanitize +
                            ["-o", exe, os.path.join(source, "examples", "trigger.c")] + flags,
                            env=env, capture_output=True, text=True)
        self.assertEqual(cc.returncode, 0, cc.stderr)

        # The installed hookctl finds the installed library by itself (rpath).
        ctl = subprocess.run([os.path.join(prefix, "bin", "hookctl"), "--help"],
                             capture_output=True, text=True)
        self.assertEqual(ctl.returncode, 0, ctl.stderr)

        # The example against a real hookd: it connects and fires the trigger action.
        hookd = harness.Hookd()
        self.addCleanup(hookd.cleanup)
        hookd.start()
        run_env = dict(os.environ, HOOKD_SOCKET=hookd.socket,
                       LD_LIBRARY_PATH=os.path.join(prefix, libdir))
        p = subprocess.run([exe, "elite", "AccountUpdated", '{"id": 1}'], env=run_env,
                           capture_output=True, text=True, timeout=60)
        if p.returncode == 1:  # until the delivery issue lands
            self.assertRegex(p.stderr, r"^TriggerEvent failed: UNIMPLEMENTED: .+\n$")
        else:
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertRegex(p.stdout, r"^event \S+")
        self.assertEqual(hookd.stop(), 0, hookd.read_log())


if __name__ == "__main__":
    unittest.main()
