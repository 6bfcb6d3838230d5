# Shared by scripts/test and scripts/demo: make sure the system packages cvseg builds against are
# present, installing them with apt-get when we are root, and explaining what to do otherwise.

cvseg_need_packages() {
    local missing=()
    command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
    pkg-config --exists libpng 2>/dev/null || missing+=(libpng-dev)
    pkg-config --exists libjpeg 2>/dev/null || missing+=(libjpeg-dev)
    [[ -f /usr/include/zlib.h ]] || missing+=(zlib1g-dev)
    [[ -f /usr/include/oneapi/dnnl/dnnl.h ]] || missing+=(libdnnl-dev)
    if ((${#missing[@]} == 0)); then
        return 0
    fi
    echo "cvseg: missing system packages: ${missing[*]}" >&2
    if [[ $(id -u) -ne 0 ]]; then
        echo "cvseg: run as root, or install them first: sudo apt-get install -y ${missing[*]}" >&2
        exit 1
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "cvseg: no apt-get here; install the equivalents of: ${missing[*]}" >&2
        exit 1
    fi
    echo "cvseg: installing ${missing[*]} with apt-get" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
}

cvseg_need_swift() {
    if ! command -v swift >/dev/null 2>&1; then
        echo "cvseg: no Swift toolchain on PATH (Swift 6.0 or later is needed: https://swift.org/install)" >&2
        exit 1
    fi
}
