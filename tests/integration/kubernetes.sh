#!/usr/bin/env bash
# The Kubernetes manifest (configs/kubernetes/tcspan.yaml), without a
# cluster: every object against the API schema of the official client
# (tests/tools/k8s_check.py), every topology of its ConfigMap through
# `tcspan validate`, broken copies refused with the expected message, and
# the facts the pods need: the node's network namespace, exactly the
# capabilities tcspan uses, its mounts, one file per node.  Then each
# topology run as a pod runs it: tcspan holding only those capabilities
# applies it, repairs it and destroys it on SIGTERM.
. "$(dirname "$0")/../lib.sh"

TOP=$(cd "$(dirname "$0")/../.." && pwd)
MANIFEST="$TOP/configs/kubernetes/tcspan.yaml"
CHECKER="$TOP/tests/tools/k8s_check.py"
# Debian's interpreter: python3-kubernetes and python3-yaml live there,
# whatever python3 comes first in PATH.
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

if ! "$PY" -c 'import kubernetes.client, yaml' 2>/dev/null; then
	fail "kubernetes: checker" "python3-kubernetes and python3-yaml are needed (make deps)"
	exit 1
fi

# ---- the manifest as shipped ------------------------------------------------
out=$("$PY" "$CHECKER" --tcspan "$TCSPAN" "$MANIFEST" 2>&1)
rc=$?
check "kubernetes: the manifest passes the checker" 0 "$rc"
check "kubernetes: each object is ok" \
	"Namespace/tcspan ConfigMap/tcspan-topology DaemonSet/tcspan DaemonSet/tcspan-node" \
	"$(sed -n "s|^$MANIFEST: \(.*\): ok$|\1|p" <<<"$out" | paste -sd' ')"
[ "$rc" -eq 0 ] || echo "$out"

# ---- broken copies: each must fail, with its message -------------------------

# broken NAME OLD NEW: $WORK/NAME.yaml, the manifest with the first OLD
# replaced by NEW (fails when OLD is not there: the test must change then).
broken() {
	"$PY" - "$MANIFEST" "$WORK/$1.yaml" "$2" "$3" <<'EOF'
import sys
src, dst, old, new = sys.argv[1:]
text = open(src).read()
if old not in text:
    sys.exit("not found in the manifest: %r" % old)
open(dst, "w").write(text.replace(old, new, 1))
EOF
}

# refused NAME EXPECTED-LINE: the checker exits 1 and prints that line.
refused() {
	local name=$1 want=$2 out rc
	out=$("$PY" "$CHECKER" --tcspan "$TCSPAN" "$WORK/$name.yaml" 2>&1)
	rc=$?
	if [ "$rc" -eq 1 ] && grep -qxF -- "$want" <<<"$out"; then
		pass "kubernetes: $name is refused"
	else
		fail "kubernetes: $name is refused" "exit $rc, expected '$want' in: $out"
	fi
}

F="$WORK/misspelled-field.yaml"
if broken misspelled-field "          securityContext:" "          securityContex:"; then
	refused misspelled-field "$F: DaemonSet/tcspan: spec.template.spec.containers[0].securityContex: unknown field (did you mean \"securityContext\"?)"
else
	fail "kubernetes: misspelled-field is refused" "cannot make the copy"
fi

F="$WORK/wrong-type.yaml"
if broken wrong-type "      hostNetwork: true" '      hostNetwork: "true"'; then
	refused wrong-type "$F: DaemonSet/tcspan: spec.template.spec.hostNetwork: expected a boolean, got a string \"true\""
else
	fail "kubernetes: wrong-type is refused" "cannot make the copy"
fi

F="$WORK/missing-container-name.yaml"
if broken missing-container-name $'        - name: tcspan\n          image:' '        - image:'; then
	refused missing-container-name "$F: DaemonSet/tcspan: spec.template.spec.containers[0].name: missing required field"
else
	fail "kubernetes: missing-container-name is refused" "cannot make the copy"
fi

F="$WORK/cap-prefix.yaml"
if broken cap-prefix '"BPF", "SYS_ADMIN"]' '"BPF", "CAP_SYS_ADMIN"]'; then
	refused cap-prefix "$F: DaemonSet/tcspan: spec.template.spec.containers[0].securityContext: cannot set \`allowPrivilegeEscalation\` to false and \`capabilities.Add\` CAP_SYS_ADMIN"
else
	fail "kubernetes: cap-prefix is refused" "cannot make the copy"
fi

# A topology that tcspan refuses: the error points into the manifest.
F="$WORK/bad-topology.yaml"
if broken bad-topology "        direction: ingress" "        direction: inbound"; then
	line=$(grep -n "direction: inbound" "$F" | head -1 | cut -d: -f1)
	refused bad-topology "$F: ConfigMap/tcspan-topology: data[\"default.yaml\"]: tcspan validate: $F:$line:20: error: \"direction\" must be ingress, egress or both, not \"inbound\""
else
	fail "kubernetes: bad-topology is refused" "cannot make the copy"
fi

# ---- what the pods need --------------------------------------------------------

# facts FILE: one "KEY VALUE" line per fact of FILE's DaemonSets and topologies.
facts() {
	"$PY" - "$1" <<'EOF'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
cms = [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "tcspan-topology"]
keys = sorted(cms[0]["data"]) if cms else []
def out(key, value):
    print(key, value)
for ds in (d for d in docs if d["kind"] == "DaemonSet"):
    n = ds["metadata"]["name"]
    pod = ds["spec"]["template"]["spec"]
    c = pod["containers"][0]
    sc = c.get("securityContext") or {}
    caps = sc.get("capabilities") or {}
    out(n + ".hostNetwork", str(pod.get("hostNetwork")).lower())
    out(n + ".containers", len(pod["containers"]) + len(pod.get("initContainers") or []))
    out(n + ".runAsUser", sc.get("runAsUser"))
    out(n + ".privileged", str(sc.get("privileged")).lower())
    out(n + ".allowPrivilegeEscalation", str(sc.get("allowPrivilegeEscalation")).lower())
    out(n + ".capabilities.add", ",".join(caps.get("add") or []))
    out(n + ".capabilities.drop", ",".join(caps.get("drop") or []))
    vols = {v["name"]: v for v in pod.get("volumes") or []}
    for m in c.get("volumeMounts") or []:
        v = vols.get(m["name"], {})
        src = ("hostPath:%s:%s" % (v["hostPath"]["path"], v["hostPath"].get("type")) if "hostPath" in v
               else "configMap:" + v["configMap"]["name"] if "configMap" in v else "other")
        out(n + ".mount." + m["mountPath"],
            "%s:%s" % (src, m.get("mountPropagation", "None")))
    out(n + ".command", " ".join(c.get("command") or []))
    out(n + ".args", " ".join(c.get("args") or []))
    env = {e["name"]: e for e in c.get("env") or []}
    out(n + ".env.NODE_NAME", ((env.get("NODE_NAME") or {}).get("valueFrom") or {})
        .get("fieldRef", {}).get("fieldPath"))
    terms = (((pod.get("affinity") or {}).get("nodeAffinity") or {})
             .get("requiredDuringSchedulingIgnoredDuringExecution") or {}).get("nodeSelectorTerms") or []
    for t in terms:
        for f in t.get("matchFields") or []:
            out(n + ".nodes." + f["operator"], ",".join(sorted(f["values"])))
out("configmap.nodes", ",".join(k[:-5] for k in keys if k.endswith(".yaml") and k != "default.yaml"))
out("configmap.default", "default.yaml" in keys)
bad = []
for k in keys:
    topo = yaml.safe_load(cms[0]["data"][k])
    out("topology.%s.name" % k, topo.get("name"))
    # The devices that must exist on the node: those the rules name, less
    # the veth ends the topology makes.
    made = {l.get(s) for l in topo.get("links") or [] for s in ("a", "b")}
    needed = [r.get(f) for r in topo.get("rules") or [] for f in ("from", "to")]
    out("topology.%s.devices" % k, ",".join(sorted(set(d for d in needed if d not in made))))
    out("topology.%s.from" % k, (topo.get("rules") or [{}])[0].get("from"))
    # Host devices only: no namespace of the pod's making, no "NETNS/DEV".
    ends = [r.get(f) for r in topo.get("rules") or [] for f in ("from", "to")]
    ends += [l.get(s) for l in topo.get("links") or [] for s in ("a", "b")]
    if topo.get("namespaces") or (topo.get("defaults") or {}).get("netns") \
            or any(isinstance(e, dict) and e.get("netns") or isinstance(e, str) and "/" in e
                   for e in ends):
        bad.append(k)
out("topology.namespaced", ",".join(bad) or "none")
EOF
}

facts "$MANIFEST" >"$WORK/facts" || fail "kubernetes: facts" "cannot read the manifest"
fact() { awk -v k="$1" '$1 == k { $1 = ""; sub(/^ /, ""); print; exit }' "$2"; }

for ds in tcspan tcspan-node; do
	f() { fact "$ds.$1" "$WORK/facts"; }
	check "kubernetes: $ds: hostNetwork" true "$(f hostNetwork)"
	check "kubernetes: $ds: one container, no init container" 1 "$(f containers)"
	check "kubernetes: $ds: runs as root" 0 "$(f runAsUser)"
	check "kubernetes: $ds: not privileged" false "$(f privileged)"
	check "kubernetes: $ds: no privilege escalation" false "$(f allowPrivilegeEscalation)"
	check "kubernetes: $ds: capabilities added, exactly" NET_ADMIN,BPF,SYS_ADMIN "$(f capabilities.add)"
	check "kubernetes: $ds: capabilities dropped" ALL "$(f capabilities.drop)"
	check "kubernetes: $ds: /sys/fs/bpf from the host" \
		"hostPath:/sys/fs/bpf:DirectoryOrCreate:HostToContainer" "$(f mount./sys/fs/bpf)"
	check "kubernetes: $ds: /run/netns from the host" \
		"hostPath:/run/netns:DirectoryOrCreate:HostToContainer" "$(f mount./run/netns)"
	check "kubernetes: $ds: /run/tcspan (the lock) from the host" \
		"hostPath:/run/tcspan:DirectoryOrCreate:None" "$(f mount./run/tcspan)"
	check "kubernetes: $ds: the topologies at /etc/tcspan" \
		"configMap:tcspan-topology:None" "$(f mount./etc/tcspan)"
	check "kubernetes: $ds: tcspan itself, no shell" /usr/sbin/tcspan "$(f command)"
	check "kubernetes: $ds: NODE_NAME from the downward API" spec.nodeName "$(f env.NODE_NAME)"
done
check "kubernetes: tcspan: default.yaml everywhere else" \
	"apply --watch --destroy-on-exit /etc/tcspan/default.yaml" "$(fact tcspan.args "$WORK/facts")"
check "kubernetes: tcspan-node: the node's own file" \
	'apply --watch --destroy-on-exit /etc/tcspan/$(NODE_NAME).yaml' "$(fact tcspan-node.args "$WORK/facts")"
check "kubernetes: the ConfigMap has default.yaml" True "$(fact configmap.default "$WORK/facts")"
nodes=$(fact configmap.nodes "$WORK/facts")
check "kubernetes: tcspan leaves out the nodes with a key of their own" \
	"$nodes" "$(fact tcspan.nodes.NotIn "$WORK/facts")"
check "kubernetes: tcspan-node runs on exactly those nodes" \
	"$nodes" "$(fact tcspan-node.nodes.In "$WORK/facts")"
check "kubernetes: every topology is named fleet" "fleet" \
	"$(awk '$1 ~ /^topology\..*\.name$/ { print $2 }' "$WORK/facts" | sort -u | paste -sd,)"
check "kubernetes: the topologies use host devices only" none \
	"$(fact topology.namespaced "$WORK/facts")"

# The facts can fail too: a copy without SYS_ADMIN.
if broken no-sys-admin '"BPF", "SYS_ADMIN"]' '"BPF"]'; then
	facts "$WORK/no-sys-admin.yaml" >"$WORK/facts.bad"
	check "kubernetes: a copy without SYS_ADMIN is noticed" NET_ADMIN,BPF \
		"$(fact tcspan.capabilities.add "$WORK/facts.bad")"
else
	fail "kubernetes: a copy without SYS_ADMIN is noticed" "cannot make the copy"
fi

# ---- the ConfigMap's topologies, run as the pod runs them ------------------------
# Each in a network namespace of its own (for the pod: the node's), by
# tcspan holding only the capabilities that the DaemonSet adds, with
# no_new_privs, and with the DaemonSet's arguments: applied, a filter
# removed by hand put back, everything destroyed on SIGTERM.  The topology
# is renamed to this run's name; the devices it needs are veth ends made
# here.
T="$RUN_ID-fleet"
topology "$T"
caps=$(fact tcspan.capabilities.add "$WORK/facts" | tr 'A-Z' 'a-z' | sed 's/[^,][^,]*/+&/g')
# CAP_NET_ADMIN (12), CAP_SYS_ADMIN (21), CAP_BPF (39), as /proc shows them.
caps_mask=$(printf '%016x' $(((1 << 12) | (1 << 21) | (1 << 39))))

# wait_for CMD...: up to 5 s for CMD to succeed.
wait_for() {
	local i
	for i in $(seq 50); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

"$PY" - "$MANIFEST" "$WORK" <<'PYEOF'
import sys, yaml
for d in yaml.safe_load_all(open(sys.argv[1])):
    if d and d["kind"] == "ConfigMap" and d["metadata"]["name"] == "tcspan-topology":
        for k, v in d["data"].items():
            open("%s/cm-%s" % (sys.argv[2], k), "w").write(v)
PYEOF

node() { nsenter -t "$holder" -n "$@"; }
# filters: tcspan's filters (those with an action) on the first rule's device.
filters() {
	node tc -j filter show dev "$from" ingress 2>/dev/null |
		jq '[.[] | select(.options.actions != null)] | length'
}
filters_are() { [ "$(filters)" = "$1" ]; }
gone() { ! kill -0 "$1" 2>/dev/null; }

for key in $(sed -n 's/^topology\.\(.*\)\.name .*/\1/p' "$WORK/facts"); do
	name="kubernetes: $key with the pod's capabilities"
	file="$WORK/run-$key"
	sed "s/^name: .*/name: $T/" "$WORK/cm-$key" >"$file"
	from=$(fact "topology.$key.from" "$WORK/facts")

	unshare -n sleep 300 &
	holder=$!
	PIDS+=("$holder")
	if ! wait_for node true; then
		fail "$name" "cannot make a network namespace"
		continue
	fi
	i=0
	for dev in $(fact "topology.$key.devices" "$WORK/facts" | tr , ' '); do
		node ip link add "$dev" type veth peer name "kp$((i++))"
		node ip link set "$dev" up
	done

	# nsenter and setpriv exec: $! is tcspan itself.
	nsenter -t "$holder" -n setpriv --no-new-privs --inh-caps=-all --bounding-set=-all,"$caps" -- \
		"$TCSPAN" apply --watch --destroy-on-exit "$file" >"$WORK/$key.out" 2>"$WORK/$key.err" &
	pod=$!
	PIDS+=("$pod")
	if ! wait_for grep -q "^tcspan: watching" "$WORK/$key.err"; then
		fail "$name: applied" "$(cat "$WORK/$key.out" "$WORK/$key.err")"
		kill "$pod" "$holder" 2>/dev/null
		continue
	fi
	pass "$name: applied"
	check "$name: only NET_ADMIN, SYS_ADMIN and BPF" "$caps_mask $caps_mask" \
		"$(awk '/^Cap(Bnd|Eff):/ { print $2 }' "/proc/$pod/status" | paste -sd' ')"

	before=$(filters)
	node tc filter del dev "$from" ingress
	if [ "${before:-0}" -ge 1 ] && wait_for filters_are "$before"; then
		pass "$name: a filter removed by hand comes back"
	else
		fail "$name: a filter removed by hand comes back" "$(filters) of '$before' after 5 s"
	fi

	kill -TERM "$pod"
	if wait_for gone "$pod"; then
		wait "$pod"
		check "$name: SIGTERM ends it with status 0" 0 $?
	else
		fail "$name: SIGTERM ends it with status 0" "still running 5 s after SIGTERM"
		kill -KILL "$pod" 2>/dev/null
	fi
	check "$name: --destroy-on-exit leaves no filter" 0 "$(filters)"
	check "$name: --destroy-on-exit leaves no pinned metadata" no \
		"$([ -e "/sys/fs/bpf/tcspan/$T" ] && echo yes || echo no)"
	kill "$holder" 2>/dev/null
	wait "$holder" 2>/dev/null || true
done
