"""test_hookctl_docs.py -- the man pages and the bash completion say what the programs do: every
hookctl command and option is in hookctl.1 and the completion, every hookd flag and config key in
hookd.8, and the completion loads in bash and completes commands, options and values."""
import os
import re
import subprocess
import unittest

from harness import HOOKCTL_BIN, HOOKD_BIN

SOURCE = os.environ.get("HOOKD_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
COMPLETION = os.path.join(SOURCE, "client", "completion", "hookctl.bash")
BASH_COMPLETION = "/usr/share/bash-completion/bash_completion"


def text(*parts):
    with open(os.path.join(SOURCE, *parts)) as f:
        return f.read()


def roff_plain(s):
    """The words of a roff source: escapes for '-' and fonts dropped."""
    return re.sub(r"\\f[BIRP]", "", s).replace("\\-", "-").replace("\\e", "\\")


def out(*args):
    return subprocess.run(list(args), capture_output=True, text=True, check=True).stdout


def commands():
    usage = out(HOOKCTL_BIN, "--help")
    block = usage.split("Commands:\n", 1)[1].split("\n\n", 1)[0]
    return [line.split()[0] for line in block.splitlines()]


def options(command):
    return sorted(set(re.findall(r"--[a-z][a-z-]*", out(HOOKCTL_BIN, command, "--help"))))


def complete(words, cword=None):
    """COMPREPLY for the line `words` with the cursor at the end of word cword."""
    cword = len(words) - 1 if cword is None else cword
    line = " ".join(words)
    script = ("source %s; source %s; COMP_WORDS=(%s); COMP_CWORD=%d; COMP_LINE=%s; "
              "COMP_POINT=%d; _hookctl; printf '%%s\\n' \"${COMPREPLY[@]}\""
              % (BASH_COMPLETION, COMPLETION, " ".join("'%s'" % w for w in words), cword,
                 "'%s'" % line, len(line)))
    p = subprocess.run(["bash", "-c", script], capture_output=True, text=True,
                       env=dict(os.environ, PATH="/nonexistent:" + os.environ["PATH"]))
    return [w for w in p.stdout.splitlines() if w]


class ManPages(unittest.TestCase):
    def test_every_hookctl_command_and_option_is_in_hookctl_1(self):
        page = roff_plain(text("docs", "man", "hookctl.1"))
        cmds = commands()
        self.assertIn("delivery", cmds)
        for cmd in cmds:
            self.assertRegex(page, r"(?m)^\.B %s\b" % cmd, cmd)
            for opt in options(cmd):
                self.assertIn(opt, page, "%s %s" % (cmd, opt))
        for word in ["HOOKD_SOCKET", "COLUMNS", "EXIT STATUS", "parked: webhook inactive"]:
            self.assertIn(word, page)

    def test_every_hookd_flag_and_config_key_is_in_hookd_8(self):
        page = roff_plain(text("docs", "man", "hookd.8"))
        usage = out(HOOKD_BIN, "--help")
        flags = set(re.findall(r"--[a-z][a-z-]*", usage))
        self.assertIn("--config", flags)
        for flag in flags:
            self.assertIn(flag, page, flag)
        keys_block = usage.split("Config keys (file or --set):\n", 1)[1]
        keys = set(re.findall(r"\b([a-z]+_[a-z_]+|ca_file)\b", keys_block))
        keys.discard("trigger_callers")
        self.assertIn("retry_schedule", keys)
        for key in keys:
            self.assertRegex(page, r"(?m)^\.B[R]? .*\b%s\b" % key, key)

    def test_pages_render(self):
        for page in ["hookd.8", "hookctl.1"]:
            p = subprocess.run(["man", "--warnings", "-l", os.path.join(SOURCE, "docs", "man",
                                                                         page)],
                               capture_output=True, text=True,
                               env=dict(os.environ, MANWIDTH="80", MANPAGER="cat", PAGER="cat"))
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(p.stderr, "", page)
            self.assertIn("SYNOPSIS", p.stdout)


@unittest.skipUnless(os.path.exists(BASH_COMPLETION), "needs bash-completion (scripts/deps --test)")
class Completion(unittest.TestCase):
    def test_loads_and_completes_commands(self):
        # The form of the brief: no COMP_LINE, the word list alone.
        p = subprocess.run(["bash", "-c", "source %s; source %s; COMP_WORDS=(hookctl li); "
                            "COMP_CWORD=1; _hookctl; echo ${COMPREPLY[@]}"
                            % (BASH_COMPLETION, COMPLETION)], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("list", p.stdout.split())
        self.assertEqual(complete(["hookctl", "li"]), ["list"])
        self.assertEqual(complete(["hookctl", "de"]),
                         ["deactivate", "delete", "deliveries", "delivery"])
        self.assertEqual(sorted(complete(["hookctl", ""])),
                         sorted(commands() + ["--json", "--socket", "--help", "--version"]))

    def test_completes_every_option_and_value(self):
        for cmd in commands():
            got = set(complete(["hookctl", cmd, "--"]))
            for opt in options(cmd):
                if cmd == "help":
                    continue
                self.assertIn(opt, got, "%s %s" % (cmd, opt))
        self.assertEqual(complete(["hookctl", "list", "--application", ""]), ["enterprise", "elite"])
        self.assertEqual(complete(["hookctl", "deliveries", "--state", "f"]), ["failed"])
        self.assertEqual(complete(["hookctl", "trigger", "--origin", ""]), ["user", "api"])
        self.assertEqual(complete(["hookctl", "help", "tr"]), ["trigger"])


if __name__ == "__main__":
    unittest.main()
