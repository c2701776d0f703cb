#!/usr/bin/env python3
"""perf-fold: where a oneshot-httpd process tree spends its samples, master and children apart.

    perf record -e cpu-clock -F 1999 --call-graph dwarf,16384 -p MASTER -o perf.data  # during load
    perf script -i perf.data -F comm,pid,ip,sym | scripts/lib/bench/perf-fold.py COMM MASTER [N]

COMM is the processes' command name (the binary's file name), MASTER the master's pid (every
other pid is a child, forked during the recording and inherited by it). Each sample is
attributed to its innermost frame in oneshot_httpd's own code (a libc or kernel frame is charged
to the function that called it); the N (default 30) largest are printed as shares of that
process kind's samples. Python 3 standard library only.
"""
import collections
import re
import sys
comm, master = sys.argv[1], sys.argv[2]
cnt={'master':collections.Counter(),'child':collections.Counter()}
tot=collections.Counter()
def flush(head, frames):
    if not head: return
    c,pid=head
    if c!=comm: return
    who='master' if pid==master else 'child'
    tot[who]+=1
    key=None
    for f in frames:
        if 'oneshot_httpd::' in f and 'Sys>::' not in f or 'sys::linux' in f:
            key=f; break
    if key is None:
        key='(other) '+(frames[-1] if frames else '?')
    key=re.sub(r'::h[0-9a-f]{16}','',key)[:110]
    cnt[who][key]+=1
head=None; frames=[]
for line in sys.stdin:
    if not line.strip():
        flush(head,frames); head=None; frames=[]; continue
    if not line.startswith((' ','\t')):
        parts=line.split()
        head=(parts[0],parts[1]); frames=[]
    else:
        p=line.strip().split(None,1)
        frames.append(p[1] if len(p)>1 else p[0])
flush(head,frames)
for who in ('master','child'):
    print(f"== {who}: {tot[who]} samples")
    for k,v in cnt[who].most_common(int(sys.argv[3]) if len(sys.argv)>3 else 30):
        print(f"{100*v/tot[who]:6.2f}%  {k}")
