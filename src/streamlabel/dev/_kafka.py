"""A single-node Apache Kafka broker (KRaft) from Maven Central jars, for development.

Maven resolves ``org.apache.kafka:kafka_2.13`` (the version pinned in
``deploy/kafka/pom.xml``) into its local cache; ``java`` formats the storage with
``kafka.tools.StorageTool`` and runs ``kafka.Kafka`` detached, bound to a loopback address
only. Everything the broker writes lives under one data folder::

    <data dir>/server.properties     written by every ``up``
    <data dir>/classpath.txt         the Maven classpath, cached (keyed by the pom's hash)
    <data dir>/kafka.pid             pid of the running broker (its own process group)
    <data dir>/data/                 ``log.dirs``: topics, ``__cluster_metadata``
    <data dir>/logs/kafka.out        console output (log4j console appender, JVM errors)
    <data dir>/logs/server.log       log4j file appender
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import ipaddress
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

__all__ = [
    "KafkaDevError",
    "LocalKafka",
    "find_deploy_dir",
    "free_ports",
    "kafka_version",
    "start_on_free_ports",
]

logger = logging.getLogger("streamlabel.dev")

#: Oldest Java the Kafka 4.x broker runs on.
MIN_JAVA = 17

_POM_NS = "{http://maven.apache.org/POM/4.0.0}"
_MAIN_CLASS = "kafka.Kafka"
_STORAGE_TOOL = "kafka.tools.StorageTool"
# JVM options as Kafka's own start scripts set them (kafka-run-class.sh, kafka-server-start.sh).
_JVM_OPTS = (
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-Djava.awt.headless=true",
)


class KafkaDevError(RuntimeError):
    """The development broker cannot be started, reached or stopped; the message says why."""


def find_deploy_dir(start: Path | None = None) -> Path:
    """Find the ``deploy/kafka`` folder of a streamlabel checkout.

    Parameters
    ----------
    start : Path, optional
        Folder to search upward from. By default the installed package's own folder (an
        editable install sits in the checkout), then the current directory.

    Returns
    -------
    Path
        The folder that holds ``pom.xml``.

    Raises
    ------
    KafkaDevError
        When no ``deploy/kafka/pom.xml`` is found.

    Examples
    --------
    >>> (find_deploy_dir() / "pom.xml").is_file()
    True
    """
    starts = [start] if start is not None else [Path(__file__).resolve().parent, Path.cwd()]
    for base in starts:
        for folder in (base, *base.parents):
            candidate = folder / "deploy" / "kafka"
            if (candidate / "pom.xml").is_file():
                return candidate
    raise KafkaDevError(
        "deploy/kafka/pom.xml not found above "
        + " or ".join(str(s) for s in starts)
        + "; run from a streamlabel checkout or pass the deploy/kafka folder"
    )


def kafka_version(deploy_dir: Path | None = None) -> str:
    """Return the Apache Kafka version pinned in ``deploy/kafka/pom.xml``.

    The ``<kafka.version>`` property of the pom is the one place the version is written.

    Parameters
    ----------
    deploy_dir : Path, optional
        The ``deploy/kafka`` folder; found with :func:`find_deploy_dir` by default.

    Returns
    -------
    str

    Examples
    --------
    >>> kafka_version().split(".")[0]
    '4'
    """
    pom = (deploy_dir if deploy_dir is not None else find_deploy_dir()) / "pom.xml"
    try:
        root = ET.parse(pom).getroot()
    except (OSError, ET.ParseError) as exc:
        raise KafkaDevError(f"cannot read {pom}: {exc}") from None
    node = root.find(f"{_POM_NS}properties/{_POM_NS}kafka.version")
    if node is None or not (node.text or "").strip():
        raise KafkaDevError(f"{pom} has no <kafka.version> property")
    return (node.text or "").strip()


def parse_java_version(text: str) -> int | None:
    """Return the major Java version from ``java -version`` output, None if unreadable.

    Examples
    --------
    >>> parse_java_version('openjdk version "17.0.15" 2025-04-15')
    17
    >>> parse_java_version('java version "1.8.0_402"'), parse_java_version('openjdk version "21"')
    (8, 21)
    >>> parse_java_version("no java here") is None
    True
    """
    match = re.search(r'version "(\d+)(?:\.(\d+))?', text)
    if match is None:
        return None
    major = int(match.group(1))
    if major == 1 and match.group(2) is not None:  # 1.8 -> 8
        major = int(match.group(2))
    return major


def _new_cluster_id() -> str:
    """Return a cluster id as ``StorageTool random-uuid`` prints it.

    Kafka's ``Uuid.randomUuid()`` is a random (version 4) UUID printed as URL-safe base64
    without padding, redrawn when the text starts with ``-``; made here to save a JVM start.

    Examples
    --------
    >>> cid = _new_cluster_id()
    >>> len(cid), cid[0] != "-"
    (22, True)
    """
    for _ in range(100):
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode("ascii")
        if not text.startswith("-"):
            return text
    raise KafkaDevError("could not draw a cluster id")  # pragma: no cover


def _port_in_use(host: str, port: int) -> bool:
    """Whether something listens on, or holds, ``host:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        if sock.connect_ex((host, port)) == 0:
            return True
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Kafka sets SO_REUSEADDR too, so a port in TIME_WAIT is usable and not "in use".
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def _pid_alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie child of ours is reaped and counts as gone)."""
    with contextlib.suppress(ChildProcessError, OSError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _cmdline(pid: int) -> str | None:
    """Return the command line of ``pid`` (Linux ``/proc``), None where it cannot be read."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return raw.replace(b"\0", b" ").decode("utf-8", "replace")


def _tail(path: Path, lines: int, max_bytes: int = 1 << 20) -> str:
    """Return the last ``lines`` lines of a file (reading at most ``max_bytes``), '' if absent."""
    if lines <= 0:
        return ""
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - max_bytes))
            data = fh.read()
    except OSError:
        return ""
    return "\n".join(data.decode("utf-8", "replace").splitlines()[-lines:])


class LocalKafka:
    """A single-node Apache Kafka broker in KRaft mode on a loopback address.

    The constructor only records settings; nothing starts until :meth:`up`.

    Parameters
    ----------
    deploy_dir : Path or str, optional
        The ``deploy/kafka`` folder (``pom.xml``, ``log4j2.properties``). Found with
        :func:`find_deploy_dir` by default.
    data_dir : Path or str, optional
        Where the broker keeps everything (see the module docstring). Default:
        ``<repository>/var/kafka``.
    host : str, default="127.0.0.1"
        Loopback address to listen on; anything else is refused.
    port : int, default=9092
        Client (PLAINTEXT) port.
    controller_port : int, optional
        KRaft controller port; default ``port + 1``.
    heap : str, default="1g"
        Maximum JVM heap (``-Xmx``); the initial heap is 256 MB.
    fetch_timeout : float, default=900
        Seconds Maven may take to fetch the jars the first time.

    Examples
    --------
    >>> broker = LocalKafka(data_dir="/tmp/streamlabel-doc-kafka", port=19092)
    >>> broker.bootstrap, broker.controller_port
    ('127.0.0.1:19092', 19093)
    >>> broker.status()["running"]
    False
    """

    def __init__(
        self,
        *,
        deploy_dir: Path | str | None = None,
        data_dir: Path | str | None = None,
        host: str = "127.0.0.1",
        port: int = 9092,
        controller_port: int | None = None,
        heap: str = "1g",
        fetch_timeout: float = 900.0,
    ) -> None:
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback or ":" in host:
            raise ValueError(
                f"host must be an IPv4 loopback address such as 127.0.0.1, got {host!r}"
            )
        controller_port = port + 1 if controller_port is None else controller_port
        for name, value in (("port", port), ("controller_port", controller_port)):
            if not 1 <= value <= 65535:
                raise ValueError(f"{name} must be in 1..65535, got {value}")
        if port == controller_port:
            raise ValueError(f"port and controller_port must differ, both are {port}")
        self.deploy_dir = Path(deploy_dir) if deploy_dir is not None else find_deploy_dir()
        self.data_dir = (
            Path(data_dir)
            if data_dir is not None
            else self.deploy_dir.parent.parent / "var" / "kafka"
        ).absolute()
        self.host = host
        self.port = port
        self.controller_port = controller_port
        self.heap = heap
        self.fetch_timeout = fetch_timeout
        self._proc: subprocess.Popen[bytes] | None = None

    # ------------------------------------------------------------------ paths

    @property
    def bootstrap(self) -> str:
        """The ``host:port`` clients bootstrap from."""
        return f"{self.host}:{self.port}"

    @property
    def version(self) -> str:
        """The pinned Kafka version (``<kafka.version>`` of the pom)."""
        return kafka_version(self.deploy_dir)

    @property
    def pid_file(self) -> Path:
        """File holding the broker's pid while it runs."""
        return self.data_dir / "kafka.pid"

    @property
    def log_file(self) -> Path:
        """The broker's console output (what :meth:`logs` reads)."""
        return self.data_dir / "logs" / "kafka.out"

    @property
    def properties_file(self) -> Path:
        """The ``server.properties`` written by :meth:`up`."""
        return self.data_dir / "server.properties"

    # ------------------------------------------------------------------ public verbs

    def up(self, timeout: float = 60.0) -> str:
        """Start the broker (if it is not running) and wait until it answers metadata.

        Parameters
        ----------
        timeout : float, default=60
            Seconds for formatting, start-up and the first metadata answer. The first
            Maven fetch of the jars has its own bound (``fetch_timeout``).

        Returns
        -------
        str
            The bootstrap address, ``host:port``.

        Raises
        ------
        KafkaDevError
            Java 17+ or Maven missing, a port taken by another process, a failed fetch or
            format, or a broker that exits or does not answer in time (with its log tail).
        """
        deadline = time.monotonic() + timeout
        pid = self._running_pid()
        if pid is not None:
            running = self._read_properties().get("listeners", "")
            if f"PLAINTEXT://{self.bootstrap}" not in running:
                raise KafkaDevError(
                    f"a broker from {self.data_dir} already runs (pid {pid}) with "
                    f"listeners {running or '?'}; run `streamlabel dev kafka down` first"
                )
            logger.info("broker already running (pid %d)", pid)
            self._wait_ready(deadline, pid)
            return self.bootstrap
        for what, port in (("port", self.port), ("controller port", self.controller_port)):
            if _port_in_use(self.host, port):
                raise KafkaDevError(
                    f"{what} {port} on {self.host} is already in use by another process "
                    f"(not a broker started from {self.data_dir}); stop it or choose "
                    "another port (--port)"
                )
        java = self._java()
        classpath = self._classpath()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        (self.data_dir / "logs").mkdir(exist_ok=True)
        self._write_properties()
        self._format(java, classpath, deadline)
        proc = self._start(java, classpath)
        try:
            self._wait_ready(deadline, proc.pid)
        except BaseException:
            self.down(timeout=15)
            raise
        return self.bootstrap

    def down(self, timeout: float = 30.0) -> bool:
        """Stop the broker: SIGTERM to its process group, SIGKILL after ``timeout`` seconds.

        Returns
        -------
        bool
            True when a running broker was stopped, False when none was running.
        """
        pid = self._running_pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        logger.info("stopping broker (pid %d)", pid)
        self._signal(pid, signal.SIGTERM)
        if not self._wait_gone(pid, timeout):
            logger.warning("broker did not stop in %.0f s; killing it", timeout)
            self._signal(pid, signal.SIGKILL)
            if not self._wait_gone(pid, 10.0):
                raise KafkaDevError(f"broker pid {pid} survived SIGKILL")
        if self._proc is not None and self._proc.pid == pid:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout=1)
            self._proc = None
        self.pid_file.unlink(missing_ok=True)
        return True

    def status(self) -> dict[str, Any]:
        """Describe the broker.

        Returns
        -------
        dict
            ``running``, ``pid``, ``bootstrap``, ``listening`` (its port accepts
            connections), ``version``, ``data_dir`` and ``log``.
        """
        pid = self._running_pid()
        bootstrap = self.bootstrap
        if pid is not None:  # report the address it was started with
            listeners = self._read_properties().get("advertised.listeners", "")
            bootstrap = listeners.removeprefix("PLAINTEXT://") or bootstrap
        listening = False
        if pid is not None:
            host, _, port = bootstrap.rpartition(":")
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.settimeout(0.5)
                listening = sock.connect_ex((host, int(port))) == 0
        return {
            "running": pid is not None,
            "pid": pid,
            "bootstrap": bootstrap,
            "listening": listening,
            "version": self.version,
            "data_dir": str(self.data_dir),
            "log": str(self.log_file),
        }

    def logs(self, lines: int = 50) -> str:
        """Return the last ``lines`` lines of the broker's console log ('' if none yet)."""
        return _tail(self.log_file, lines)

    # ------------------------------------------------------------------ steps of `up`

    def _java(self) -> str:
        java_home = os.environ.get("JAVA_HOME")
        java = None
        if java_home and (Path(java_home) / "bin" / "java").is_file():
            java = str(Path(java_home) / "bin" / "java")
        java = java or shutil.which("java")
        if java is None:
            raise KafkaDevError(
                f"Java {MIN_JAVA} or newer is required to run the Kafka broker, but `java` "
                "is not on PATH (install a JDK/JRE >= 17, e.g. openjdk-17-jre-headless)"
            )
        try:
            out = subprocess.run(
                [java, "-version"], capture_output=True, text=True, timeout=30, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise KafkaDevError(f"`{java} -version` failed: {exc}") from None
        major = parse_java_version(out.stderr + out.stdout)
        if major is None:
            raise KafkaDevError(
                f"cannot read the Java version from `{java} -version`: "
                f"{(out.stderr + out.stdout).strip()[:200]!r}"
            )
        if major < MIN_JAVA:
            raise KafkaDevError(
                f"Java {MIN_JAVA} or newer is required to run Kafka {self.version}, "
                f"but {java} is Java {major}"
            )
        return java

    def _classpath(self) -> str:
        """Return the broker's classpath: cached in the data dir, built with Maven when stale."""
        pom = self.deploy_dir / "pom.xml"
        key = hashlib.sha256(pom.read_bytes()).hexdigest()
        cache = self.data_dir / "classpath.txt"
        key_file = self.data_dir / "classpath.sha256"
        if cache.is_file() and key_file.is_file() and key_file.read_text().strip() == key:
            classpath = cache.read_text().strip()
            if classpath and all(Path(p).is_file() for p in classpath.split(os.pathsep)):
                return classpath
        mvn = shutil.which("mvn")
        if mvn is None:
            raise KafkaDevError(
                "Maven is required to fetch the Apache Kafka jars, but `mvn` is not on PATH "
                "(install Maven 3.6 or newer, e.g. the `maven` package)"
            )
        self.data_dir.mkdir(parents=True, exist_ok=True)
        partial = self.data_dir / "classpath.txt.part"
        cmd = [
            mvn,
            "-q",
            "-B",
            "-f",
            str(pom),
            "dependency:build-classpath",
            "-Dmdep.includeScope=runtime",
            f"-Dmdep.outputFile={partial}",
        ]
        logger.info("resolving the Kafka %s jars with Maven (first run fetches them)", self.version)
        try:
            out = subprocess.run(
                cmd, capture_output=True, text=True, timeout=self.fetch_timeout, check=False
            )
        except subprocess.TimeoutExpired:
            raise KafkaDevError(
                f"Maven did not resolve the Kafka jars within {self.fetch_timeout:.0f} s"
            ) from None
        if out.returncode != 0 or not partial.is_file():
            tail = "\n".join((out.stdout + out.stderr).strip().splitlines()[-15:])
            raise KafkaDevError(
                f"Maven could not resolve the Kafka jars ({' '.join(cmd[:5])} ...):\n{tail}"
            )
        classpath = partial.read_text().strip()
        partial.replace(cache)
        key_file.write_text(key + "\n")
        return classpath

    def _settings(self) -> dict[str, str]:
        """``server.properties`` for a single node (static KRaft quorum, loopback only)."""
        plain = f"PLAINTEXT://{self.host}:{self.port}"
        return {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@{self.host}:{self.controller_port}",
            "listeners": f"{plain},CONTROLLER://{self.host}:{self.controller_port}",
            "advertised.listeners": plain,
            "inter.broker.listener.name": "PLAINTEXT",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(self.data_dir / "data"),
            "num.partitions": "1",
            "auto.create.topics.enable": "true",
            # One broker: every internal topic has one replica, or groups and
            # transactions cannot create __consumer_offsets / __transaction_state.
            "offsets.topic.replication.factor": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
        }

    def _write_properties(self) -> None:
        lines = [
            "# Written by streamlabel.dev.LocalKafka on every `up`; edits are overwritten.",
            *(f"{k}={v}" for k, v in self._settings().items()),
        ]
        self.properties_file.write_text("\n".join(lines) + "\n", encoding="utf-8")

    def _read_properties(self) -> dict[str, str]:
        try:
            text = self.properties_file.read_text(encoding="utf-8")
        except OSError:
            return {}
        pairs = (ln.split("=", 1) for ln in text.splitlines() if "=" in ln and ln[:1] != "#")
        return {k.strip(): v.strip() for k, v in pairs}

    def _jvm(self, java: str, classpath: str, main: str, *args: str) -> list[str]:
        log4j = (self.deploy_dir / "log4j2.properties").absolute()
        return [
            java,
            "-Xms256m",
            f"-Xmx{self.heap}",
            *_JVM_OPTS,
            f"-Dkafka.logs.dir={self.data_dir / 'logs'}",
            f"-Dlog4j2.configurationFile=file:{log4j}",
            "-cp",
            classpath,
            main,
            *args,
        ]

    def _format(self, java: str, classpath: str, deadline: float) -> None:
        """Format ``log.dirs`` once (``-g`` leaves a formatted folder alone)."""
        if (self.data_dir / "data" / "meta.properties").is_file():
            return
        cluster_id = _new_cluster_id()
        # Static quorum (controller.quorum.voters set): Kafka 4.x refuses --standalone here.
        cmd = self._jvm(
            java,
            classpath,
            _STORAGE_TOOL,
            "format",
            "-t",
            cluster_id,
            "-c",
            str(self.properties_file),
            "-g",
        )
        logger.info("formatting %s (cluster id %s)", self.data_dir / "data", cluster_id)
        try:
            out = subprocess.run(
                cmd,
                capture_output=True,
                text=True,
                timeout=max(5.0, deadline - time.monotonic()),
                check=False,
                cwd=self.data_dir,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired:
            raise KafkaDevError("formatting the Kafka storage timed out") from None
        if out.returncode != 0:
            tail = "\n".join((out.stdout + out.stderr).strip().splitlines()[-15:])
            raise KafkaDevError(f"formatting the Kafka storage failed:\n{tail}")

    def _start(self, java: str, classpath: str) -> subprocess.Popen[bytes]:
        cmd = self._jvm(java, classpath, _MAIN_CLASS, str(self.properties_file))
        logger.info("starting Kafka %s on %s", self.version, self.bootstrap)
        with self.log_file.open("ab") as out:
            out.write(f"\n=== streamlabel: starting {' '.join(cmd[-2:])}\n".encode())
            out.flush()
            # Own session/process group: `down` signals the whole group; Ctrl-C in the
            # shell that ran `up` does not reach the broker.
            proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.data_dir,
                start_new_session=True,
            )
        self._proc = proc
        self.pid_file.write_text(f"{proc.pid}\n")
        return proc

    def _wait_ready(self, deadline: float, pid: int) -> None:
        """Poll until a metadata request succeeds; fail early if the broker exits."""
        attempts = 0
        last_error = "no answer yet"
        while True:
            attempts += 1
            if not _pid_alive(pid):
                self.pid_file.unlink(missing_ok=True)
                raise KafkaDevError(
                    f"the Kafka broker exited during start-up; last log lines "
                    f"({self.log_file}):\n{self.logs(25)}"
                )
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise KafkaDevError(
                    f"the Kafka broker did not answer metadata requests on {self.bootstrap} "
                    f"in time ({attempts} attempts, last: {last_error}); last log lines:\n"
                    f"{self.logs(25)}"
                )
            error = self._metadata_error(min(5.0, max(1.0, remaining)))
            if error is None:
                logger.info("broker answers on %s", self.bootstrap)
                return
            last_error = error
            time.sleep(min(0.3, max(0.0, deadline - time.monotonic())))

    def _metadata_error(self, timeout: float) -> str | None:
        """Send one metadata request; None when it succeeds, else the reason."""
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.5)
            if sock.connect_ex((self.host, self.port)) != 0:
                return "port not open"
        from kafka import KafkaAdminClient
        from kafka.errors import KafkaError

        ms = int(timeout * 1000)
        admin = None
        try:
            admin = KafkaAdminClient(
                bootstrap_servers=self.bootstrap,
                client_id="streamlabel-dev-ready",
                request_timeout_ms=ms,
                bootstrap_timeout_ms=ms,
            )
            admin.list_topics()
        except (KafkaError, OSError) as exc:
            return f"{type(exc).__name__}: {exc}"
        finally:
            if admin is not None:
                with contextlib.suppress(Exception):
                    admin.close()
        return None

    # ------------------------------------------------------------------ process helpers

    def _running_pid(self) -> int | None:
        """Return the pid from the pid file if that process is alive and is our broker."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        if not _pid_alive(pid):
            return None
        cmdline = _cmdline(pid)
        if cmdline is not None and (
            _MAIN_CLASS not in cmdline or str(self.properties_file) not in cmdline
        ):
            return None  # the pid was reused by another program
        return pid

    @staticmethod
    def _signal(pid: int, sig: signal.Signals) -> None:
        try:
            if os.getpgid(pid) == pid:
                os.killpg(pid, sig)
            else:  # pragma: no cover - we always start it as a group leader
                os.kill(pid, sig)
        except ProcessLookupError:
            pass

    def _wait_gone(self, pid: int, timeout: float) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self._proc is not None and self._proc.pid == pid:
                if self._proc.poll() is not None:
                    return True
            elif not _pid_alive(pid):
                return True
            time.sleep(0.1)
        return not _pid_alive(pid)


def free_ports(n: int, host: str = "127.0.0.1") -> list[int]:
    """Return ``n`` distinct ports free on ``host`` right now (held together while drawn).

    Examples
    --------
    >>> a, b = free_ports(2)
    >>> a != b and a > 0 and b > 0
    True
    """
    socks = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(n)]
    try:
        for sock in socks:
            sock.bind((host, 0))
        return [int(sock.getsockname()[1]) for sock in socks]
    finally:
        for sock in socks:
            sock.close()


def start_on_free_ports(data_dir: Path, *, timeout: float = 90.0, attempts: int = 3) -> LocalKafka:
    """Start a :class:`LocalKafka` on free ports; retry when a drawn port was taken meanwhile.

    Raises
    ------
    KafkaDevError
        The broker did not start (the last reason), or every attempt met a taken port.
    """
    failure = ""
    for _ in range(attempts):
        port, controller_port = free_ports(2)
        broker = LocalKafka(data_dir=data_dir, port=port, controller_port=controller_port)
        try:
            broker.up(timeout=timeout)
        except KafkaDevError as exc:
            failure = str(exc)
            if "already in use" in failure:
                continue
            raise
        return broker
    raise KafkaDevError(f"no free ports after {attempts} attempts: {failure}")
