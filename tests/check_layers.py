#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""No two dataplane files call each other in a circle: checked from nm.

Reads `nm -A` of the dataplane's object files (the executable's own objects
and the objects inside the dataplane's static libraries), links every
undefined symbol (U) of a file to the file that defines it (T, D, B, R...),
and fails, naming the files of a circle, when the file-to-file graph has one.
A callback registered as a function pointer is no edge: that is the way to
turn a dependency around.

Usage: check_layers.py DIR...          (object files and .a found under DIRs)
       check_layers.py --nm-output FILE (a saved `nm -A` listing instead)
Exit 0 when there is no circle, 1 when there is one, 77 when nothing to read.
"""

import os
import re
import subprocess
import sys


def source_name(member):
    """worker.c.o -> worker.c; the name a reader knows the file by."""
    base = os.path.basename(member)
    return base[:-2] if base.endswith('.o') else base


def parse_nm(text):
    """defs: symbol -> file; uses: file -> set of symbols."""
    defs, uses = {}, {}
    for line in text.splitlines():
        # nm -A: "[archive:]member.o:[addr] TYPE name"; the member is the
        # last field before the symbol part that ends in ".o".
        m = re.match(r'^(.*\.o):\s*(?:[0-9a-fA-F]+\s+)?([A-Za-z])\s+(\S+)$', line)
        if m is None:
            continue
        head, typ, sym = m.groups()
        fname = source_name(head.split(':')[-1])
        uses.setdefault(fname, set())
        if typ == 'U':
            uses[fname].add(sym)
        elif typ in 'TDBRGSVWC':
            defs.setdefault(sym, fname)
    return defs, uses


def graph_of(defs, uses):
    g = {f: set() for f in uses}
    for f, syms in uses.items():
        for s in syms:
            d = defs.get(s)
            if d is not None and d != f:
                g[f].add(d)
    return g


def find_cycle(g):
    """One circle of the graph as a list of files (first == last), or None."""
    WHITE, GREY, BLACK = 0, 1, 2
    colour = {v: WHITE for v in g}
    for root in sorted(g):
        if colour[root] != WHITE:
            continue
        stack = [(root, iter(sorted(g[root])))]
        path = [root]
        colour[root] = GREY
        while stack:
            v, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                colour[v] = BLACK
                stack.pop()
                path.pop()
                continue
            if colour[nxt] == GREY:
                return path[path.index(nxt):] + [nxt]
            if colour[nxt] == WHITE:
                colour[nxt] = GREY
                stack.append((nxt, iter(sorted(g[nxt]))))
                path.append(nxt)
    return None


def strongly_connected(g):
    """Tarjan's components of more than one file (every file in a circle)."""
    index, low, on, st, out = {}, {}, set(), [], []
    counter = [0]
    sys.setrecursionlimit(10000)

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        st.append(v)
        on.add(v)
        for w in g[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = st.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def nm_of(dirs):
    files = []
    for d in dirs:
        for root, _, names in os.walk(d):
            for n in names:
                if n.endswith('.o') or n.endswith('.a'):
                    p = os.path.join(root, n)
                    # An archive's objects also sit in its .p folder: read
                    # the archive only, so a file is counted once.
                    if n.endswith('.o') and '.a.p' in root:
                        continue
                    files.append(p)
    if not files:
        return None
    r = subprocess.run(['nm', '-A'] + sorted(files), capture_output=True, text=True)
    if r.returncode != 0:
        sys.stderr.write(r.stderr)
        sys.exit(1)
    return r.stdout


def main(argv):
    if len(argv) == 3 and argv[1] == '--nm-output':
        with open(argv[2]) as f:
            text = f.read()
    else:
        text = nm_of(argv[1:])
        if text is None:
            print('check_layers: no object files under %s (build the dataplane first)'
                  % ' '.join(argv[1:]))
            return 77
    defs, uses = parse_nm(text)
    g = graph_of(defs, uses)
    cycle = find_cycle(g)
    edges = sum(len(v) for v in g.values())
    if cycle is None:
        print('check_layers: %d files, %d file-to-file dependencies, no circle'
              % (len(g), edges))
        return 0
    print('check_layers: dataplane files call each other in a circle:')
    print('  ' + ' -> '.join(cycle))
    for a, b in zip(cycle, cycle[1:]):
        syms = sorted(s for s in uses[a] if defs.get(s) == b)
        print('    %s uses %s of %s' % (a, ', '.join(syms[:4]) + (' ...' if len(syms) > 4
                                                              else ''), b))
    for comp in strongly_connected(g):
        print('  files in one circle together: ' + ' '.join(comp))
    print('Turn one of these dependencies around (a callback registered as a function'
          ' pointer, or move the function to the file that uses it).')
    return 1


if __name__ == '__main__':
    sys.exit(main(sys.argv))
