"""Decide whether hardware virtualization really works, by running tiny guests through /dev/kvm.

A /dev/kvm node (and ``virsh capabilities`` listing kvm) is not proof: on a PVM host
(``kvm_pvm`` module, KVM nested inside a cloud VM) every stage below *runs*, but all
supervisor-mode guest code is emulated at ~1 M instructions/s, thousands of times slower than
native, so a real guest OS seems to hang right after SeaBIOS. The probe therefore runs, each in
a fresh VM: a real-mode, a 32-bit protected-mode and a 64-bit long-mode "out 0x10; hlt" guest,
then a long-mode kernel-mode (CPL0) busy loop that must run at native speed.

All KVM work happens in a forked child that the caller kills on timeout, so a hang in KVM_RUN
never hangs the caller, and no exception escapes ``probe_kvm``.
Standard library only: this file is used as an Ansible module_util and run directly.
"""

import argparse
import contextlib
import ctypes
import dataclasses
import fcntl
import json
import math
import mmap
import os
import select
import signal
import stat
import struct
import sys
import time
from collections.abc import Callable


@dataclasses.dataclass
class KvmProbeResult:
    usable: bool
    reason: str
    stages: dict[str, str] = dataclasses.field(default_factory=dict)
    timings: dict[str, float] = dataclasses.field(default_factory=dict)


# ioctl numbers from linux/kvm.h: _IOC(direction, 0xAE, nr, size).
def _ioc(direction: int, nr: int, size: int) -> int:
    return direction << 30 | size << 16 | 0xAE << 8 | nr


_W, _R = 1, 2
KVM_GET_API_VERSION = _ioc(0, 0x00, 0)
KVM_CREATE_VM = _ioc(0, 0x01, 0)
KVM_GET_VCPU_MMAP_SIZE = _ioc(0, 0x04, 0)
KVM_CREATE_VCPU = _ioc(0, 0x41, 0)
KVM_SET_USER_MEMORY_REGION = _ioc(_W, 0x46, 32)
KVM_SET_TSS_ADDR = _ioc(0, 0x47, 0)
KVM_RUN = _ioc(0, 0x80, 0)
KVM_SET_REGS = _ioc(_W, 0x82, 144)
KVM_GET_SREGS = _ioc(_R, 0x83, 312)
KVM_SET_SREGS = _ioc(_W, 0x84, 312)

KVM_EXIT_IO, KVM_EXIT_HLT = 2, 5
_EXIT_NAMES = {0: "UNKNOWN", 1: "EXCEPTION", 2: "IO", 3: "HYPERCALL", 4: "DEBUG", 5: "HLT",
               6: "MMIO", 7: "IRQ_WINDOW_OPEN", 8: "SHUTDOWN", 9: "FAIL_ENTRY", 10: "INTR",
               17: "INTERNAL_ERROR"}  # fmt: skip

# struct kvm_segment: base, limit, selector, type, present, dpl, db, s, l, g, avl, unusable, pad.
_SEGMENT = struct.Struct("=QIHBBBBBBBBBx")
# struct kvm_sregs: cs ds es fs gs ss tr ldt (8 x 24 bytes), gdt, idt (2 x 16), then cr0 at 224:
_CONTROL_REGS = struct.Struct("=6Q")  # cr0, cr2, cr3, cr4, cr8, efer
_CONTROL_REGS_OFFSET = 8 * _SEGMENT.size + 2 * 16
_CR0_PE, _CR0_ET, _CR0_PG = 1 << 0, 1 << 4, 1 << 31
_CR4_PAE = 1 << 5
_EFER_LME, _EFER_LMA = 1 << 8, 1 << 10

# Guest physical layout: 2 MiB of RAM, code at 0x1000, identity-mapping page tables above it.
_MEM_SIZE = 2 << 20
_CODE, _PML4, _PDPT, _PD = 0x1000, 0x2000, 0x3000, 0x4000
_PORT = 0x10
_OUT_HLT = bytes([0xE6, _PORT, 0xF4])  # out 0x10, al; hlt

# Each guest's result only comes out right when the CPU decodes it in the intended mode.
_REAL_CODE = bytes([0xB0, 0x16]) + _OUT_HLT  # mov al, 0x16
_PROTECTED_CODE = (
    bytes([0xB8]) + struct.pack("<I", 0x32ABCDEF)  # mov eax, 0x32abcdef (16-bit: mov ax + junk)
    + bytes([0xC1, 0xE8, 0x18]) + _OUT_HLT  # shr eax, 24
)  # fmt: skip
_LONG_CODE = (
    bytes([0x48, 0xB8]) + struct.pack("<Q", 0x64 << 56 | 0xABCDEF)  # mov rax, imm64 (needs REX.W)
    + bytes([0x48, 0xC1, 0xE8, 0x38]) + _OUT_HLT  # shr rax, 56
)  # fmt: skip
# Kernel-mode busy loop: _SPEED_CHUNKS x _SPEED_CHUNK iterations of "dec ecx; jnz", reporting
# progress with "out 0x10, 1" after each chunk so the host can stop early when it is too slow.
_SPEED_CHUNKS, _SPEED_CHUNK = 256, 1 << 18
_SPEED_ITERATIONS = _SPEED_CHUNKS * _SPEED_CHUNK  # 67 M: ~20-70 ms natively, ~70 s on PVM
_SPEED_CODE = (
    bytes([0xBB]) + struct.pack("<I", _SPEED_CHUNKS)  # mov ebx, chunks
    + bytes([0xB9]) + struct.pack("<I", _SPEED_CHUNK)  # 1: mov ecx, chunk
    + bytes([0xFF, 0xC9, 0x75, 0xFC])  # 2: dec ecx; jnz 2b
    + bytes([0xB0, 0x01, 0xE6, _PORT])  # mov al, 1; out 0x10, al
    + bytes([0xFF, 0xCB, 0x75, 0xEF])  # dec ebx; jnz 1b
    + bytes([0xB0, 0x65]) + _OUT_HLT  # mov al, 0x65; out; hlt
)  # fmt: skip
_SPEED_BUDGET = 1.0  # seconds; passing needs > 67 M iterations/s, native does > 1000 M/s

_STAGES = ("real_mode", "protected_mode", "long_mode", "kernel_speed")
_LABELS = {
    "real_mode": "real mode",
    "protected_mode": "32-bit protected mode",
    "long_mode": "64-bit long mode",
    "kernel_speed": "the kernel-mode speed test",
}
_NO_OS = "this hypervisor cannot run a guest OS (use virt_type qemu)"
_MAX_EXITS = _SPEED_CHUNKS + 8


class _StageError(Exception):
    pass


def _ioctl(fd: int, request: int, arg: int | bytes | bytearray, what: str) -> int:
    try:
        return fcntl.ioctl(fd, request, arg)
    except OSError as exc:
        raise _StageError(f"{what}: {exc.strerror or exc}") from None


def _segment(selector: int, code: bool, mode: str) -> bytes:
    if mode == "real":  # base 0, 64 KiB limit, 16-bit
        return _SEGMENT.pack(0, 0xFFFF, 0, 11 if code else 3, 1, 0, 0, 1, 0, 0, 0, 0)
    long_code = code and mode == "long"  # 64-bit code segment: L=1 requires D=0
    return _SEGMENT.pack(0, 0xFFFFFFFF, selector, 11 if code else 3, 1, 0, int(not long_code), 1,
                         int(long_code), 1, 0, 0)  # fmt: skip


def _setup_sregs(vcpu: int, mem: mmap.mmap, mode: str) -> None:
    sregs = bytearray(312)
    _ioctl(vcpu, KVM_GET_SREGS, sregs, "KVM_GET_SREGS")
    sregs[0 : _SEGMENT.size] = _segment(0x08, True, mode)  # cs
    for i in range(1, 6):  # ds es fs gs ss
        sregs[i * _SEGMENT.size : (i + 1) * _SEGMENT.size] = _segment(0x10, False, mode)
    cr0, cr2, cr3, cr4, cr8, efer = _CONTROL_REGS.unpack_from(sregs, _CONTROL_REGS_OFFSET)
    if mode == "protected":
        cr0 = _CR0_PE | _CR0_ET
    elif mode == "long":  # PML4 -> PDPT -> PD with one 2 MiB page identity-mapping all RAM
        struct.pack_into("<Q", mem, _PML4, _PDPT | 3)  # present | writable
        struct.pack_into("<Q", mem, _PDPT, _PD | 3)
        struct.pack_into("<Q", mem, _PD, 0x83)  # present | writable | 2 MiB page
        cr0, cr3, cr4 = _CR0_PE | _CR0_ET | _CR0_PG, _PML4, cr4 | _CR4_PAE
        efer |= _EFER_LME | _EFER_LMA
    _CONTROL_REGS.pack_into(sregs, _CONTROL_REGS_OFFSET, cr0, cr2, cr3, cr4, cr8, efer)
    _ioctl(vcpu, KVM_SET_SREGS, bytes(sregs), "KVM_SET_SREGS")


def _run_guest(kvm: int, mode: str, code: bytes, budget: float | None = None) -> list[int]:
    """Run code in a fresh VM until HLT; return bytes written to port 0x10, in order."""
    vm = _ioctl(kvm, KVM_CREATE_VM, 0, "KVM_CREATE_VM")
    vcpu = -1
    try:
        # Only Intel CPUs without unrestricted guest need this; others ignore it.
        with contextlib.suppress(OSError):
            fcntl.ioctl(vm, KVM_SET_TSS_ADDR, 0x7FFFD000)
        mem = mmap.mmap(-1, _MEM_SIZE, mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        mem[_CODE : _CODE + len(code)] = code
        host_addr = ctypes.addressof(ctypes.c_char.from_buffer(mem))
        region = struct.pack("=IIQQQ", 0, 0, 0, _MEM_SIZE, host_addr)  # slot, flags, gpa, size
        _ioctl(vm, KVM_SET_USER_MEMORY_REGION, region, "KVM_SET_USER_MEMORY_REGION")
        vcpu = _ioctl(vm, KVM_CREATE_VCPU, 0, "KVM_CREATE_VCPU")
        run_size = _ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0, "KVM_GET_VCPU_MMAP_SIZE")
        run = mmap.mmap(vcpu, run_size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        _setup_sregs(vcpu, mem, mode)
        regs = bytearray(144)  # rax..r15, rip, rflags
        struct.pack_into("=QQ", regs, 128, _CODE, 0x2)  # rflags bit 1 is reserved-one
        _ioctl(vcpu, KVM_SET_REGS, bytes(regs), "KVM_SET_REGS")
        return _run_loop(vcpu, run, budget)
    finally:
        if vcpu >= 0:
            os.close(vcpu)
        os.close(vm)


def _run_loop(vcpu: int, run: mmap.mmap, budget: float | None) -> list[int]:
    outs: list[int] = []
    start = time.monotonic()
    for _ in range(_MAX_EXITS):
        try:
            fcntl.ioctl(vcpu, KVM_RUN, 0)
        except InterruptedError:
            continue
        except OSError as exc:
            raise _StageError(f"KVM_RUN: {exc.strerror or exc}") from None
        reason = struct.unpack_from("=I", run, 8)[0]  # kvm_run.exit_reason
        if reason == KVM_EXIT_HLT:
            return outs
        if reason != KVM_EXIT_IO:
            detail = struct.unpack_from("=I", run, 32)[0]  # suberror / failure reason, if any
            name = _EXIT_NAMES.get(reason, str(reason))
            raise _StageError(f"unexpected exit {name} (data {detail:#x})")
        direction, size, port, count, offset = struct.unpack_from("=BBHIQ", run, 32)
        if (direction, size, port, count) != (1, 1, _PORT, 1):
            raise _StageError(f"unexpected I/O on port {port:#x}")
        outs.append(run[offset])
        if budget is not None and time.monotonic() - start > budget:
            break  # too slow: the caller computes the speed from len(outs)
    return outs


def _stage(kvm: int, name: str, budget: float) -> tuple[str, str]:
    """Return (status, note) for one stage; note is a human fragment for the reason."""
    label = _LABELS[name]
    try:
        if name == "kernel_speed":
            start = time.monotonic()
            outs = _run_guest(kvm, "long", _SPEED_CODE, budget)
            elapsed = max(time.monotonic() - start, 1e-6)
            rate = len(outs) * _SPEED_CHUNK / elapsed / 1e6
            complete = outs == [1] * _SPEED_CHUNKS + [0x65]
            if complete and elapsed <= budget:
                return "ok", f"{rate:.0f} M loop iterations/s"
            if complete or outs == [1] * len(outs):  # stopped (or finished) over budget
                need = _SPEED_ITERATIONS / budget / 1e6
                speed = f"{rate:.1f} M loop iterations/s, needs {need:.0f} M"
                return f"failed: too slow ({speed}): guest code is emulated", (
                    f"guest kernel code runs emulated, not natively ({speed})"
                )
            raise _StageError(f"wrong output {outs[-4:]}")
        mode, code, want = {
            "real_mode": ("real", _REAL_CODE, 0x16),
            "protected_mode": ("protected", _PROTECTED_CODE, 0x32),
            "long_mode": ("long", _LONG_CODE, 0x64),
        }[name]
        outs = _run_guest(kvm, mode, code)
        if outs != [want]:
            raise _StageError(f"guest wrote {outs}, expected [{want:#x}] then hlt")
        return "ok", ""
    except Exception as exc:  # mmap/ctypes errors fail the stage too
        return f"failed: {exc}", f"{label} guest failed ({exc})"


def _child(device: str, wfd: int, budget: float) -> None:
    def send(**message: object) -> None:
        os.write(wfd, (json.dumps(message) + "\n").encode())

    try:
        kvm = os.open(device, os.O_RDWR | os.O_CLOEXEC)
    except OSError as exc:
        send(fatal=f"cannot open {device}: {exc.strerror or exc}")
        return
    try:
        api = fcntl.ioctl(kvm, KVM_GET_API_VERSION, 0)
    except OSError as exc:
        send(fatal=f"{device} is not a KVM device (KVM_GET_API_VERSION: {exc.strerror or exc})")
        return
    if api != 12:  # the only stable KVM API version since Linux 2.6.22
        send(fatal=f"{device} reports KVM API version {api}, expected 12")
        return
    send(ready=True)
    for name in _STAGES:
        start = time.monotonic()
        status, note = _stage(kvm, name, budget)
        send(stage=name, status=status, note=note, seconds=round(time.monotonic() - start, 4))


def _child_main(device: str, wfd: int, timeout: float) -> None:
    # Backstop: if our parent dies before killing us, do not spin in KVM_RUN forever.
    signal.signal(signal.SIGALRM, signal.SIG_DFL)
    signal.alarm(math.ceil(timeout) + 2)
    _child(device, wfd, min(_SPEED_BUDGET, timeout / 2))


def _reap(pid: int, kill: bool) -> None:
    """Wait for the child at most ~2 s: one stuck in the kernel is left behind, not waited on."""
    if kill:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    for _ in range(200):
        try:
            if os.waitpid(pid, os.WNOHANG)[0]:
                return
        except ChildProcessError:
            return
        time.sleep(0.01)
    if not kill:
        _reap(pid, kill=True)


def _collect(
    device: str,
    timeout: float,
    child: Callable[[str, int, float], None],
) -> tuple[list[dict], bool]:
    """Fork child(device, write_fd, timeout); return (its JSON messages, whether it timed out)."""
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: never return into the caller's code
        status = 0
        try:
            os.close(rfd)
            child(device, wfd, timeout)
        except BaseException:  # anything here just ends the child
            status = 1
        finally:
            os._exit(status)
    os.close(wfd)
    data, eof = b"", False
    deadline = time.monotonic() + timeout
    try:
        while (remaining := deadline - time.monotonic()) > 0:
            if not select.select([rfd], [], [], remaining)[0]:
                break
            chunk = os.read(rfd, 65536)
            if not chunk:
                eof = True
                break
            data += chunk
    finally:
        os.close(rfd)
        _reap(pid, kill=not eof)
    lines = data.decode(errors="replace").splitlines()
    return [json.loads(line) for line in lines if line.endswith("}")], not eof


def _summarize(
    device: str,
    timeout: float,
    messages: list[dict],
    timed_out: bool,
) -> KvmProbeResult:
    """Turn the child's messages (possibly cut short by a timeout or a crash) into a result."""
    for message in messages:
        if "fatal" in message:
            return KvmProbeResult(False, str(message["fatal"]), dict.fromkeys(_STAGES, "skipped"))
    if not any(message.get("ready") for message in messages):
        why = f"did not finish within {timeout:g} s" if timed_out else "crashed the probe"
        return KvmProbeResult(False, f"opening {device} {why}", dict.fromkeys(_STAGES, "skipped"))
    done = {m["stage"]: m for m in messages if "stage" in m}
    stages: dict[str, str] = {}
    timings = {name: float(m["seconds"]) for name, m in done.items()}
    reason = ""
    for name in _STAGES:
        if name in done:
            stages[name] = str(done[name]["status"])
            if stages[name] != "ok" and not reason:
                reason = f"{done[name]['note']}: {_NO_OS}"
        elif reason:
            stages[name] = "skipped"
        elif timed_out:  # this stage was running when the child was killed
            stages[name] = "timeout"
            reason = f"KVM_RUN did not return within {timeout:g} s in {_LABELS[name]}: {_NO_OS}"
        else:
            stages[name] = "failed: probe process died"
            reason = f"the probe process died in {_LABELS[name]}"
    if reason:
        return KvmProbeResult(False, reason, stages, timings)
    speed = done["kernel_speed"]["note"]
    return KvmProbeResult(True, f"KVM ran real, protected and long mode guests, kernel code at "
                          f"native speed ({speed})", stages, timings)  # fmt: skip


def probe_kvm(device: str = "/dev/kvm", timeout: float = 5.0) -> KvmProbeResult:
    """Run test guests on device; never raises, never takes much longer than timeout."""
    try:
        try:
            mode = os.stat(device).st_mode
        except FileNotFoundError:
            return KvmProbeResult(False, f"{device} missing")
        if not stat.S_ISCHR(mode):
            return KvmProbeResult(False, f"{device} is not a character device")
        messages, timed_out = _collect(device, timeout, _child_main)
        return _summarize(device, timeout, messages, timed_out)
    except Exception as exc:  # contract: a result, never an exception
        return KvmProbeResult(False, f"KVM probe of {device} failed: {exc}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Check that KVM can really run a guest OS.")
    parser.add_argument("device", nargs="?", default="/dev/kvm")
    parser.add_argument("--timeout", type=float, default=5.0)
    args = parser.parse_args()
    result = probe_kvm(args.device, args.timeout)
    print(json.dumps(dataclasses.asdict(result), indent=2))
    sys.exit(0 if result.usable else 1)
