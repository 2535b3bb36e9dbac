"""Opt-in test (`make test-slurm`): the smoke study through workflow/profiles/slurm on a real one-node SLURM cluster.

Debian's slurm-wlm and munge (installed with apt-get when missing; needs root) are started by hand: munged on its
own socket and key, slurmctld and slurmd on their own ports, all state in a temporary folder; the only system-wide
files are /etc/slurm/slurm.conf and gres.conf, written only where none exist and removed afterwards. The node advertises as many GPUs as it has CPUs, stand-in devices (character devices equal
to /dev/null): the profile's GPU request (`--gpus=1`) is scheduled exactly as written, and the jobs run on the CPU
since there is no CUDA device. The cluster has no accounting storage, so Snakemake reads job states with squeue and submits
without an account. The checks read the controller's job records (`scontrol show job`); jobcomp/filetxt also keeps
a line per finished job in the cluster logs.

Writes everything under results/slurm-test/ (the study in work/, the daemons' logs in cluster/); exits non-zero
when a check fails.
"""
from __future__ import annotations

import os
import re
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "results" / "slurm-test"
PACKAGES = {"slurmctld": "slurm-wlm", "slurmd": "slurm-wlm", "sbatch": "slurm-client", "munged": "munge"}
CONF_DIR = Path("/etc/slurm")  # where Debian's slurm-wlm and every client command look
CTLD_PORT = int(os.environ.get("SLURM_TEST_PORT", "6917"))  # off the default 6817/6818: no clash with a real cluster


def log(message: str) -> None:
    print(f"[test-slurm {time.strftime('%H:%M:%S')}] {message}", flush=True)


def ensure_packages() -> None:
    """apt-get install slurm-wlm and munge when a daemon is missing (Debian's packages; root)."""
    missing = sorted({package for binary, package in PACKAGES.items() if shutil.which(binary) is None})
    if not missing:
        return
    if os.geteuid() != 0:
        sys.exit(f"missing {missing}: run as root, or first: sudo apt-get install slurm-wlm munge")
    log(f"apt-get install {' '.join(missing)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", "slurm-wlm", "munge"], check=True, env=env)


def node_line() -> str:
    """This machine as slurmd sees it (`slurmd -C`: hostname, CPUs, sockets, cores, memory)."""
    first = subprocess.run(["slurmd", "-C"], check=True, capture_output=True, text=True).stdout.splitlines()[0]
    if not first.startswith(f"NodeName={socket.gethostname().split('.')[0]} "):
        raise RuntimeError(f"unexpected `slurmd -C` output: {first}")
    return first


def cpus_of(node: str) -> int:
    return int(re.search(r"\bCPUs=(\d+)", node).group(1))


@contextmanager
def config_installed(cluster: Path, node: str):
    """slurm.conf and gres.conf for one node in /etc/slurm, every other path inside `cluster`; removed afterwards.

    /etc/slurm rather than SLURM_CONF: the plugin's job step drops SLURM_* variables before its nested srun, which
    then finds no configuration (a real cluster node has /etc/slurm/slurm.conf or configless DNS records).
    """
    if (CONF_DIR / "slurm.conf").exists() or (CONF_DIR / "gres.conf").exists():
        sys.exit(f"{CONF_DIR} already holds a SLURM configuration: this test will not overwrite it")
    CONF_DIR.mkdir(parents=True, exist_ok=True)
    try:
        write_config(cluster, node)
        yield
    finally:
        for name in ("slurm.conf", "gres.conf"):
            (CONF_DIR / name).unlink(missing_ok=True)


def write_config(cluster: Path, node: str) -> None:
    host = node.split()[0].removeprefix("NodeName=")
    gpus = cpus_of(node)
    for sub in ("state", "spool"):
        (cluster / sub).mkdir()
    (CONF_DIR / "slurm.conf").write_text(
        f"""ClusterName=gradflowtest
SlurmctldHost={host}
SlurmctldPort={CTLD_PORT}
SlurmdPort={CTLD_PORT + 1}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={cluster}/munge.socket
StateSaveLocation={cluster}/state
SlurmdSpoolDir={cluster}/spool
SlurmctldPidFile={cluster}/slurmctld.pid
SlurmdPidFile={cluster}/slurmd.pid
MailProg=/bin/true
MinJobAge=3600
SlurmctldLogFile={cluster}/slurmctld.log
SlurmdLogFile={cluster}/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
GresTypes=gpu
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc={cluster}/jobcomp.txt
{node} Gres=gpu:{gpus} State=UNKNOWN
PartitionName=test Nodes={host} Default=YES MaxTime=INFINITE State=UP
"""
    )
    for index in range(gpus):  # stand-in GPU devices: character devices equal to /dev/null (slurmd drops file-less GPUs)
        os.mknod(cluster / f"gpu{index}", stat.S_IFCHR | 0o666, os.makedev(1, 3))
    (CONF_DIR / "gres.conf").write_text(f"NodeName={host} Name=gpu File={cluster}/gpu[0-{gpus - 1}]\n")


def wait_for(what: str, check, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(1)


def node_idle(env: dict[str, str]) -> bool:
    try:
        result = subprocess.run(["sinfo", "--noheader", "-o", "%t"], capture_output=True, text=True, env=env, timeout=15)
    except subprocess.TimeoutExpired:
        return False
    return result.returncode == 0 and result.stdout.strip() == "idle"


def start_daemon(command: list[str], env: dict[str, str], log_file: Path) -> subprocess.Popen:
    """A daemon in the foreground, as our child: stopped and reaped by its own process, never by name."""
    with open(log_file, "w") as out:
        return subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)


def stop_daemon(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def all_alive(daemons: list[subprocess.Popen]) -> bool:
    for daemon in daemons:
        if daemon.poll() is not None:
            raise RuntimeError(f"{daemon.args[0]} exited {daemon.returncode} (its log is in the cluster folder)")
    return True


@contextmanager
def cluster_running(cluster: Path, env: dict[str, str]):
    """munged, slurmctld and slurmd started by hand (in the foreground, as children); stopped in reverse order."""
    subprocess.run(["mungekey", "--create", f"--keyfile={cluster}/munge.key"], check=True)
    os.chmod(cluster / "munge.key", 0o600)
    daemons = []
    try:
        daemons.append(start_daemon(
            ["munged", "--foreground", "--force", f"--socket={cluster}/munge.socket", f"--key-file={cluster}/munge.key",
             f"--log-file={cluster}/munged.log", f"--pid-file={cluster}/munged.pid", f"--seed-file={cluster}/munged.seed"],
            env, cluster / "munged.out"))
        wait_for("munged", lambda: (cluster / "munge.socket").exists(), 20)
        daemons.append(start_daemon(["slurmctld", "-D", "-c"], env, cluster / "slurmctld.out"))  # -c: no saved state
        daemons.append(start_daemon(["slurmd", "-D"], env, cluster / "slurmd.out"))
        wait_for("the node to be idle", lambda: all_alive(daemons) and node_idle(env), 90)
        log(subprocess.run(["sinfo", "-N", "-o", "%N %c %m %G %t"], capture_output=True, text=True, env=env).stdout)
        yield
    finally:
        for daemon in reversed(daemons):
            stop_daemon(daemon)
        log("daemons stopped")


def run_study(work: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    """The smoke study with the real SLURM profile plus this cluster's two facts: no accounts, no sacct."""
    command = [
        str(Path(sys.executable).parent / "snakemake"), "--snakefile", str(REPO / "workflow" / "Snakefile"),
        "--workflow-profile", str(REPO / "workflow" / "profiles" / "slurm"),
        "--configfile", str(REPO / "config" / "smoke.yaml"), "--directory", str(work),
        "--slurm-no-account", "--slurm-status-command", "squeue", "--slurm-keep-successful-logs",
        "--slurm-init-seconds-before-status-checks", "10", "--seconds-between-status-checks", "5",
    ]
    log("$ " + " ".join(command))
    with open(OUT / "snakemake.log", "w") as out:
        result = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, text=True, env=env, timeout=1800)
    return result


def check_outputs(work: Path, jobs_text: str) -> list[str]:
    """What must hold after the run: the study's outputs, and every train_* job (and only those) ran under SLURM."""
    failures = []
    results = work / "results" / "smoke"
    if not (results / "paper.pdf").read_bytes().startswith(b"%PDF"):
        failures.append("paper.pdf is not a PDF")
    for table in ("runs.csv", "verdicts.csv", "m1_gradient_matrix.csv"):
        if not (results / "tables" / table).stat().st_size:
            failures.append(f"tables/{table} is empty")
    train_rules = sorted(p.name.removeprefix("rule_") for p in (work / ".snakemake" / "slurm_logs").glob("rule_*"))
    n_blocks = len(list((results / "logs" / "runs").glob("*/block*.log")))  # one train_* job per block
    jobs = [dict(re.findall(r"(\w+)=(\S*)", line)) for line in jobs_text.splitlines() if line.strip()]
    for job in jobs:
        log(f"SLURM job {job['JobId']}: {job['JobState']} exit {job.get('ExitCode')} "
            f"{job.get('TresPerJob') or job.get('TresPerNode')} {job.get('Comment')} ran {job.get('RunTime')}")
    log(f"rules submitted: {train_rules}")
    if not train_rules or any(not rule.startswith("train_") for rule in train_rules):
        failures.append(f"submitted rules should be the train_* rules only: {train_rules}")
    if not n_blocks or len(train_rules) != n_blocks or len(jobs) != n_blocks:
        failures.append(f"{n_blocks} training blocks, {len(train_rules)} submitted rules, {len(jobs)} SLURM jobs")
    for job in jobs:
        if job["JobState"] != "COMPLETED" or job.get("ExitCode") != "0:0":
            failures.append(f"SLURM job {job['JobId']}: {job['JobState']} exit {job.get('ExitCode')}")
        if "gpu:1" not in job.get("TresPerJob", "") + job.get("TresPerNode", ""):
            failures.append(f"SLURM job {job['JobId']} did not ask for a GPU: {job.get('TresPerJob')}")
    return failures


def main() -> int:
    start = time.monotonic()
    ensure_packages()
    if OUT.exists():
        shutil.rmtree(OUT)
    work = OUT / "work"
    work.mkdir(parents=True)
    cluster = Path(tempfile.mkdtemp(prefix="gradflow-slurm-"))  # short path: munge's socket name has a length limit
    env = {name: value for name, value in os.environ.items() if name != "SLURM_CONF"}
    try:
        with config_installed(cluster, node_line()), cluster_running(cluster, env):
            result = run_study(work, env)
            jobs = subprocess.run(["scontrol", "-o", "show", "job"], capture_output=True, text=True, env=env).stdout
            (OUT / "jobs.txt").write_text(jobs)  # every job the controller ran (MinJobAge keeps them an hour)
        log(f"snakemake exited {result.returncode} (output: {OUT / 'snakemake.log'})")
        failures = [f"snakemake exited {result.returncode}"] if result.returncode else check_outputs(work, jobs)
    finally:
        shutil.copytree(cluster, OUT / "cluster", dirs_exist_ok=True, ignore=shutil.ignore_patterns("*.socket*", "munge.key", "gpu*", "state", "spool"))
        shutil.rmtree(cluster, ignore_errors=True)
    for failure in failures:
        log(f"FAIL: {failure}")
    log(f"{'FAILED' if failures else 'PASSED'} in {time.monotonic() - start:.0f} s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
