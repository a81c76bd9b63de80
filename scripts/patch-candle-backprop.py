#!/usr/bin/env python3
"""Rewrite candle-core's src/backprop.rs in place: each `let s = grads.or_insert(arg)?; ...
*s = s.add(&g)?` pair becomes `grads.accumulate(arg, &g)?` (see vendor/README.md). Prints how
many pairs it rewrote and the accumulations it left as they were. The `accumulate` method itself
is added to GradStore by hand.

usage: scripts/patch-candle-backprop.py vendor/candle-core/src/backprop.rs
"""
import re, sys
p = sys.argv[1]
lines = open(p).read().split('\n')
out = list(lines)
done = 0; left = []
for i, l in enumerate(lines):
    m = re.match(r'(\s*)let (\w+) = grads\.or_insert\((\w+)\)\?;$', l)
    if not m: continue
    _, var, arg = m.groups()
    for j in range(i + 1, len(lines)):
        if f'*{var} = ' in lines[j]:
            break
    mid = lines[i + 1:j]
    a = re.match(rf'(\s*)\*{var} = {var}\.add\(&(.+)\)\?(;?)$', lines[j])
    expr = a.group(2).replace(f'{var}.dims()', f'{arg}.dims()') if a else ''
    if a and not re.search(rf'\b{var}\b', expr) and not any(re.search(rf'\b{var}\b', x) for x in mid):
        out[i] = None
        out[j] = f'{a.group(1)}grads.accumulate({arg}, &{expr})?{a.group(3)}'
        done += 1
    else:
        left.append(lines[j].strip())
open(p, 'w').write('\n'.join(x for x in out if x is not None))
print('accumulate:', done); print('left as they were:'); print('\n'.join(left))
