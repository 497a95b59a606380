#!/usr/bin/python3
# lmdb_pages.py -- which LMDB pages, in which tables, the last commit of a data.mdb dirtied
#
# usage: bench/lmdb_pages.py DATA.MDB [COUNT_TABLE]
#
# LMDB keeps the trees of its last two commits whole (two meta pages; the
# pages the newest commit freed are not reused by the next one), so a copy of
# data.mdb taken while hookd runs (SIGSTOP, cp, SIGCONT) holds both. A page
# that a commit wrote (copy-on-write: new or changed) has a page number that
# is in the newest tree and not in the one before it. This walks both trees
# of every table (the free list and the main table included) and prints, per
# table, the pages the newest commit dirtied, and per event when COUNT_TABLE
# (default "deliveries") gained entries. Reads LMDB 0.9's on-disk format
# (64-bit build) directly.
import struct
import sys

PAGEHDR = 16
P_BRANCH, P_LEAF, P_OVERFLOW, P_META, P_LEAF2 = 0x01, 0x02, 0x04, 0x08, 0x20
F_BIGDATA, F_SUBDATA, F_DUPDATA = 0x01, 0x02, 0x04
DB = struct.Struct("<IHHQQQQQ")  # pad flags depth branch leaf overflow entries root


class File:
    def __init__(self, path):
        with open(path, "rb") as f:
            self.data = f.read()
        self.ps = 4096

    def page(self, pgno):
        o = pgno * self.ps
        return self.data[o : o + self.ps]

    def metas(self):
        out = []
        for i in (0, 1):
            p = self.page(i)
            magic, version = struct.unpack_from("<II", p, PAGEHDR)
            if magic != 0xBEEFC0DE:
                sys.exit("not an LMDB file")
            dbs = [DB.unpack_from(p, PAGEHDR + 8 + 8 + 8 + j * DB.size) for j in (0, 1)]
            last_pg, txnid = struct.unpack_from("<QQ", p, PAGEHDR + 24 + 2 * DB.size)
            out.append((txnid, dbs))
        return sorted(out)

    def walk(self, root, pages, subdbs=None):
        """Adds every page of the tree at root to pages; named tables' records
        (the main table's F_SUBDATA leaves) go into subdbs."""
        if root == 0xFFFFFFFFFFFFFFFF:
            return
        stack = [root]
        while stack:
            pgno = stack.pop()
            pages.add(pgno)
            p = self.page(pgno)
            flags = struct.unpack_from("<H", p, 10)[0]
            lower = struct.unpack_from("<H", p, 12)[0]
            if flags & P_LEAF2:
                continue
            n = (lower - PAGEHDR) >> 1
            for i in range(n):
                off = struct.unpack_from("<H", p, PAGEHDR + 2 * i)[0]
                lo, hi, nflags, ksize = struct.unpack_from("<HHHH", p, off)
                if flags & P_BRANCH:
                    stack.append(lo | hi << 16 | nflags << 32)
                    continue
                dsize = lo | hi << 16
                d = off + 8 + ksize
                if nflags & F_BIGDATA:
                    ov = struct.unpack_from("<Q", p, d)[0]
                    count = struct.unpack_from("<I", self.page(ov), 12)[0]
                    pages.update(range(ov, ov + count))
                elif nflags & F_SUBDATA and subdbs is not None:
                    name = p[off + 8 : off + 8 + ksize].decode("latin1")
                    subdbs[name] = DB.unpack(p[d : d + DB.size])
                elif nflags & F_SUBDATA:  # a dup sub-tree
                    self.walk(DB.unpack(p[d : d + DB.size])[7], pages)

    def trees(self, dbs):
        """{table: (page set, entries)} of one commit."""
        out = {}
        for name, db in (("(free list)", dbs[0]), ("(main)", dbs[1])):
            pages, subdbs = set(), {}
            self.walk(db[7], pages, subdbs if name == "(main)" else None)
            out[name] = (pages, db[6])
            for sub, sdb in subdbs.items():
                sp = set()
                self.walk(sdb[7], sp)
                out[sub] = (sp, sdb[6])
        return out


def main():
    f = File(sys.argv[1])
    count_table = sys.argv[2] if len(sys.argv) > 2 else "deliveries"
    (t_old, old_dbs), (t_new, new_dbs) = f.metas()
    old, new = f.trees(old_dbs), f.trees(new_dbs)
    gained = new.get(count_table, (set(), 0))[1] - old.get(count_table, (set(), 0))[1]
    print(f"txn {t_new} against {t_old}: {count_table} +{gained} entries")
    total = 0
    for name in sorted(new):
        pages, entries = new[name]
        dirty = len(pages - old.get(name, (set(), 0))[0])
        total += dirty
        per = f"  {dirty / gained:6.2f}/event" if gained > 0 else ""
        print(f"  {name:14} {dirty:5d} pages dirtied{per}   ({len(pages)} pages, {entries} entries)")
    per = f"  {total / gained:6.2f}/event" if gained > 0 else ""
    print(f"  {'total':14} {total:5d} pages = {total * f.ps} bytes{per}")


if __name__ == "__main__":
    main()
