1{
/^[[:space:]]*#/b
t e0c
:e0c
s/^\(.*\)[[:space:]]module_blacklist=i915\([[:space:]]\|$\)/\1\2/
t e0
s/^\([[:space:]]*\)module_blacklist=i915\([[:space:]]\+\|$\)/\1/
t e0
:e0
t e1c
:e1c
s/^\(.*\)[[:space:]]xe\.force_probe=46a6\([[:space:]]\|$\)/\1\2/
t e1
s/^\([[:space:]]*\)xe\.force_probe=46a6\([[:space:]]\+\|$\)/\1/
t e1
:e1
}
