1{
/^[[:space:]]*#/b
t e0c
:e0c
s/^\(.*\)[[:space:]]module_blacklist=xe\([[:space:]]\|$\)/\1\2/
t e0
s/^\([[:space:]]*\)module_blacklist=xe\([[:space:]]\+\|$\)/\1/
t e0
:e0
t e1c
:e1c
s/^\(.*\)[[:space:]]i915\.max_vfs=7\([[:space:]]\|$\)/\1\2/
t e1
s/^\([[:space:]]*\)i915\.max_vfs=7\([[:space:]]\+\|$\)/\1/
t e1
:e1
t e2c
:e2c
s/^\(.*\)[[:space:]]i915\.enable_guc=3\([[:space:]]\|$\)/\1\2/
t e2
s/^\([[:space:]]*\)i915\.enable_guc=3\([[:space:]]\+\|$\)/\1/
t e2
:e2
t e3c
:e3c
s/^\(.*\)[[:space:]]intel_iommu=on\([[:space:]]\|$\)/\1\2/
t e3
s/^\([[:space:]]*\)intel_iommu=on\([[:space:]]\+\|$\)/\1/
t e3
:e3
}
