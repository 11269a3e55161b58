#!/usr/bin/python3
"""Check Kubernetes manifests against the API schema, without a cluster.

    k8s_check.py [--tcspan PATH/TO/tcspan] MANIFEST...

Each document of each file is checked against the model class of its
apiVersion and kind in the official Python client (Debian's
python3-kubernetes), whose generated classes carry the schema of every API
object (`openapi_types`, `attribute_map`):

- every key must be a field of the object (an unknown one is reported with
  its path, e.g. spec.template.spec.containers[0].securityContex, and the
  nearest field name);
- every value must have the declared type (str, int, bool, float, lists,
  maps, nested objects; `object` fields such as IntOrString take anything);
- the client's deserializer, with client_side_validation on, must accept
  the document: that catches missing required fields (containers[].name,
  volumeMounts[].mountPath, ...);
- two rules that the API server adds to the schema: metadata.name is set,
  and allowPrivilegeEscalation: false goes neither with privileged: true nor
  with the capability spelled "CAP_SYS_ADMIN";
- with --tcspan, each ConfigMap key ending in .yaml or .yml holds a topology
  that `tcspan validate` accepts; its errors point into the manifest when
  the value is a literal block (`|`).

Prints "FILE: KIND/NAME: ok" for a good document, "FILE: KIND/NAME: PATH:
MESSAGE" for each problem; exits 1 when there is any, 2 on bad usage.
"""

import argparse
import difflib
import json
import os
import re
import subprocess
import sys
import tempfile

import yaml

try:
    import kubernetes.client
    from kubernetes.client import models
except ImportError:
    sys.stderr.write("k8s_check.py: the Kubernetes client is missing "
                     "(Debian package python3-kubernetes)\n")
    sys.exit(2)


# ---- YAML as the API server reads it ---------------------------------------

class Loader(yaml.SafeLoader):
    """SafeLoader without timestamps (a date stays a string, as in kubectl)
    and with duplicate keys as errors."""


Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def construct_mapping(loader, node, deep=False):
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, "duplicate key %r" % (key,), key_node.start_mark)
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep)


Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)


# ---- apiVersion + kind -> model class ----------------------------------------

def kinds():
    """{(apiVersion, kind): class name}, read from the client's API classes:
    each create call names its path (/api/v1/..., /apis/GROUP/VERSION/...)
    and the class of what it creates."""
    table = {}
    call = re.compile(r"call_api\(\s*'/api(?:s/([^/']+))?/(v[0-9a-z]+)/[^']*',\s*'POST',"
                      r".*?response_type='(\w+)'", re.S)
    api_dir = os.path.dirname(kubernetes.client.api.__file__)
    for fname in sorted(os.listdir(api_dir)):
        if not fname.endswith("_api.py"):
            continue
        with open(os.path.join(api_dir, fname)) as f:
            src = f.read()
        for group, version, cls_name in call.findall(src):
            cls = getattr(models, cls_name, None)
            if cls is None or "kind" not in getattr(cls, "attribute_map", {}):
                continue
            # V1DaemonSet, V1beta1CronJob, EventsV1Event -> the kind
            kind = re.sub(r"^[A-Za-z]*?V[0-9]+(?:(?:alpha|beta)[0-9]+)?(?=[A-Z])", "", cls_name)
            api_version = "%s/%s" % (group, version) if group else version
            table.setdefault((api_version, kind), cls_name)
    return table


# ---- the schema walk ----------------------------------------------------------

# Quantities ("100m", "64Mi") are strings in the client but numbers too
# in the API ("cpu: 1").
QUANTITIES = {
    ("V1ResourceRequirements", "limits"), ("V1ResourceRequirements", "requests"),
    ("V1EmptyDirVolumeSource", "size_limit"), ("V1ResourceQuotaSpec", "hard"),
    ("V1LimitRangeItem", "default"), ("V1LimitRangeItem", "default_request"),
    ("V1LimitRangeItem", "max"), ("V1LimitRangeItem", "min"),
    ("V1LimitRangeItem", "max_limit_request_ratio"),
    ("V1PersistentVolumeSpec", "capacity"),
}

TYPE_NAMES = {dict: "a map", list: "a list", str: "a string", bool: "a boolean",
              int: "an integer", float: "a number", type(None): "null"}


def describe(value):
    return "%s %s" % (TYPE_NAMES.get(type(value), type(value).__name__),
                      json.dumps(value, default=str)[:40])


def join(path, key):
    if re.fullmatch(r"[A-Za-z_$][A-Za-z0-9_$]*", key):
        return "%s.%s" % (path, key) if path else key
    return '%s["%s"]' % (path, key)


def walk(value, typ, path, errors, quantity=False):
    """Check `value` against the client's type string `typ`."""
    if value is None:
        return                  # null is "not set", for any field
    m = re.fullmatch(r"list\[(.*)\]", typ)
    if m:
        if not isinstance(value, list):
            errors.append((path, "expected a list, got %s" % describe(value)))
            return
        for i, item in enumerate(value):
            if item is None:
                errors.append(("%s[%d]" % (path, i), "null list item"))
            else:
                walk(item, m.group(1), "%s[%d]" % (path, i), errors, quantity)
        return
    m = re.fullmatch(r"dict\(str, (.*)\)", typ)
    if m:
        if not isinstance(value, dict):
            errors.append((path, "expected a map, got %s" % describe(value)))
            return
        for k, v in value.items():
            if not isinstance(k, str):
                errors.append((path, "map key %s is not a string" % describe(k)))
                continue
            walk(v, m.group(1), join(path, k), errors, quantity)
        return
    if typ == "object":
        return
    if typ in ("str", "datetime", "date"):
        if isinstance(value, str):
            return
        if quantity and isinstance(value, (int, float)) and not isinstance(value, bool):
            return
        errors.append((path, "expected a string, got %s" % describe(value)))
        return
    if typ == "int":
        if not isinstance(value, int) or isinstance(value, bool):
            errors.append((path, "expected an integer, got %s" % describe(value)))
        return
    if typ == "float":
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            errors.append((path, "expected a number, got %s" % describe(value)))
        return
    if typ == "bool":
        if not isinstance(value, bool):
            errors.append((path, "expected a boolean, got %s" % describe(value)))
        return
    cls = getattr(models, typ, None)
    if cls is None:
        errors.append((path, "the client has no type %s" % typ))
        return
    if not isinstance(value, dict):
        errors.append((path, "expected an object (%s), got %s" % (typ, describe(value))))
        return
    by_json = {j: attr for attr, j in cls.attribute_map.items()}
    for key, v in value.items():
        where = join(path, str(key))
        if key not in by_json:
            near = difflib.get_close_matches(str(key), list(by_json), n=1)
            errors.append((where, "unknown field%s" %
                           (' (did you mean "%s"?)' % near[0] if near else "")))
            continue
        attr = by_json[key]
        walk(v, cls.openapi_types[attr], where, errors, (typ, attr) in QUANTITIES)


# ---- required fields: the client's own deserializer ----------------------------

class Response:
    """What ApiClient.deserialize() reads: a body with JSON in .data."""

    def __init__(self, obj):
        self.data = json.dumps(obj)


def make_api_client():
    conf = kubernetes.client.Configuration()
    conf.client_side_validation = True
    return kubernetes.client.ApiClient(conf)


def deserialize(api, value, typ):
    """None, or the client's ValueError message."""
    try:
        api.deserialize(Response(value), typ)
    except ValueError as e:
        return str(e)
    return None


def locate(api, value, typ, path):
    """The deepest object in `value` that the deserializer refuses, as
    (path, message); None when all of it is accepted."""
    if value is None:
        return None
    m = re.fullmatch(r"list\[(.*)\]", typ)
    if m and isinstance(value, list):
        for i, item in enumerate(value):
            found = locate(api, item, m.group(1), "%s[%d]" % (path, i))
            if found:
                return found
        return None
    m = re.fullmatch(r"dict\(str, (.*)\)", typ)
    if m and isinstance(value, dict):
        for k, v in value.items():
            found = locate(api, v, m.group(1), join(path, str(k)))
            if found:
                return found
        return None
    cls = getattr(models, typ, None)
    if cls is None or not getattr(cls, "openapi_types", None) or not isinstance(value, dict):
        return None
    for attr, sub in cls.openapi_types.items():
        key = cls.attribute_map[attr]
        if key in value:
            found = locate(api, value[key], sub, join(path, key))
            if found:
                return found
    msg = deserialize(api, value, typ)
    if msg is None:
        return None
    m = re.fullmatch(r"Invalid value for `(\w+)`, must not be `None`", msg)
    if m and m.group(1) in cls.attribute_map:
        return join(path, cls.attribute_map[m.group(1)]), "missing required field"
    return path or ".", msg


# ---- rules of the API server beyond the schema ---------------------------------

def security_contexts(doc):
    """(path, securityContext) of each container of a pod or pod template."""
    spec = doc.get("spec") or {}
    pod = spec if doc.get("kind") == "Pod" else ((spec.get("template") or {}).get("spec")
                                                 or (((spec.get("jobTemplate") or {}).get("spec")
                                                      or {}).get("template") or {}).get("spec"))
    if not isinstance(pod, dict):
        return
    base = "spec" if doc.get("kind") == "Pod" else (
        "spec.template.spec" if "template" in spec else "spec.jobTemplate.spec.template.spec")
    for field in ("initContainers", "containers", "ephemeralContainers"):
        for i, c in enumerate(pod.get(field) or []):
            if isinstance(c, dict) and isinstance(c.get("securityContext"), dict):
                yield "%s.%s[%d].securityContext" % (base, field, i), c["securityContext"]


def api_rules(doc, errors):
    meta = doc.get("metadata")
    if not isinstance(meta, dict) or not (meta.get("name") or meta.get("generateName")):
        errors.append(("metadata.name", "missing required field"))
    for path, sc in security_contexts(doc):
        if sc.get("allowPrivilegeEscalation") is not False:
            continue
        if sc.get("privileged") is True:
            errors.append((path, "cannot set `allowPrivilegeEscalation` to false "
                                 "and `privileged` to true"))
        caps = sc.get("capabilities") or {}
        if "CAP_SYS_ADMIN" in (caps.get("add") or []):
            errors.append((path, "cannot set `allowPrivilegeEscalation` to false "
                                 "and `capabilities.Add` CAP_SYS_ADMIN"))


# ---- topologies in ConfigMaps ----------------------------------------------------

def value_nodes(doc_node):
    """{key: value node} of a ConfigMap document's `data`."""
    if not isinstance(doc_node, yaml.MappingNode):
        return {}
    for k, v in doc_node.value:
        if k.value == "data" and isinstance(v, yaml.MappingNode):
            return {kk.value: vv for kk, vv in v.value}
    return {}


def check_topologies(tcspan, manifest, lines, doc, doc_node, errors):
    data = doc.get("data")
    if not isinstance(data, dict):
        return
    nodes = value_nodes(doc_node)
    with tempfile.TemporaryDirectory(prefix="k8s-check.") as tmp:
        for key, text in data.items():
            if not (isinstance(key, str) and re.search(r"\.ya?ml$", key)
                    and isinstance(text, str)):
                continue
            path = os.path.join(tmp, "topology.yaml")
            with open(path, "w") as f:
                f.write(text)
            run = subprocess.run([tcspan, "validate", path], stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, universal_newlines=True)
            if run.returncode == 0:
                continue
            # A literal block keeps lines: point at the manifest itself.
            node = nodes.get(key)
            first = indent = None
            if node is not None and node.style == "|" and node.start_mark.line + 1 < len(lines):
                first = node.start_mark.line + 1       # 0-based line of the value's line 1
                body = [ln for ln in lines[first:] if ln.strip()]
                indent = len(body[0]) - len(body[0].lstrip(" ")) if body else 0
            where = join("data", key)
            for line in run.stdout.splitlines():
                m = re.match(re.escape(path) + r":(\d+):(\d+): (.*)", line)
                if m and first is not None:
                    line = "%s:%d:%d: %s" % (manifest, first + int(m.group(1)),
                                             indent + int(m.group(2)), m.group(3))
                elif m:
                    line = "line %s, column %s: %s" % m.groups()
                else:
                    line = line.replace(path, where)
                errors.append((where, "tcspan validate: " + line))


# ---- main ------------------------------------------------------------------------

def check_file(manifest, table, api, tcspan):
    """Print the result of each document; the number of problems."""
    try:
        with open(manifest) as f:
            text = f.read()
        docs = list(yaml.load_all(text, Loader=Loader))
        doc_nodes = list(yaml.compose_all(text, Loader=Loader))
    except OSError as e:
        print("%s: %s" % (manifest, e.strerror))
        return 1
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        print("%s:%d:%d: %s" % (manifest, mark.line + 1, mark.column + 1,
                                e.problem or e.context))
        return 1
    except yaml.YAMLError as e:
        print("%s: %s" % (manifest, str(e).replace("\n", " ")))
        return 1
    lines = text.split("\n")
    problems = 0
    for n, (doc, doc_node) in enumerate(zip(docs, doc_nodes), 1):
        if doc is None:
            continue
        errors = []
        if not isinstance(doc, dict):
            print("%s: document %d: expected an object, got %s" % (manifest, n, describe(doc)))
            problems += 1
            continue
        api_version, kind = doc.get("apiVersion"), doc.get("kind")
        name = (doc.get("metadata") or {}).get("name") if isinstance(doc.get("metadata"), dict) else None
        label = "%s/%s" % (kind or "?", name or "document %d" % n)
        cls_name = table.get((api_version, kind))
        if not isinstance(api_version, str) or not isinstance(kind, str):
            errors.append(("apiVersion" if not isinstance(api_version, str) else "kind",
                           "missing required field"))
        elif cls_name is None:
            known = sorted(v for v, k in table if k == kind)
            errors.append(("kind", "no kind %s in %s%s" % (
                kind, api_version, " (it is in %s)" % ", ".join(known) if known else "")))
        else:
            walk(doc, cls_name, "", errors)
            if not errors:
                msg = deserialize(api, doc, cls_name)
                if msg is not None:
                    errors.append(locate(api, doc, cls_name, "") or (".", msg))
            api_rules(doc, errors)
            if not errors and tcspan and (api_version, kind) == ("v1", "ConfigMap"):
                check_topologies(tcspan, manifest, lines, doc, doc_node, errors)
        for path, msg in errors:
            print("%s: %s: %s: %s" % (manifest, label, path, msg))
        if not errors:
            print("%s: %s: ok" % (manifest, label))
        problems += len(errors)
    return problems


def main():
    ap = argparse.ArgumentParser(description="Check Kubernetes manifests against the "
                                 "API schema of the official Python client.")
    ap.add_argument("--tcspan", metavar="PATH",
                    help="check ConfigMap keys *.yaml with `PATH validate`")
    ap.add_argument("manifests", nargs="+", metavar="MANIFEST")
    args = ap.parse_args()
    table = kinds()
    api = make_api_client()
    problems = sum(check_file(m, table, api, args.tcspan) for m in args.manifests)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
