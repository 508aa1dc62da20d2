"""The pod host's firewall: accounts' pods cannot reach each other, the host or link-local.

Each account's pods share one bridge network (``tenantry.clients.podhost.containers``),
and every such bridge's name starts with the same prefix (``pod_bridge_prefix``). Docker
alone isolates bridges only when it manages iptables, and never stops a container from
dialling the host itself or the cloud's metadata service at 169.254.169.254. So the host
agent installs two chains of its own, matching only on interfaces with that prefix:

- forward (hooked into ``DOCKER-USER``, which Docker keeps first in FORWARD; ``FORWARD``
  where Docker does not manage iptables): traffic bridged inside one account's network
  passes, traffic routed from one pod bridge to another is dropped, and so is anything
  from a pod bridge to 169.254.0.0/16;
- input (hooked into ``INPUT``): from a pod bridge only replies reach the host (the edge
  dials published ports through docker-proxy, whose replies come back this way); new
  connections to any of the host's addresses are dropped.

``ensure`` is idempotent (each rule is checked with ``-C`` first) and is what the agent
calls at start; ``missing`` says what is not in place, for a health check; ``remove``
takes it all out again (tests, uninstall). Nothing here touches traffic of interfaces
without the prefix.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass

LINK_LOCAL = "169.254.0.0/16"

Runner = Callable[[Sequence[str]], int]


def iptables_path() -> str:
    """iptables lives in /usr/sbin, which a service's or a sudo'ed PATH may lack."""
    return (
        shutil.which("iptables") or shutil.which("iptables", path="/usr/sbin:/sbin") or "iptables"
    )


def run_iptables(args: Sequence[str]) -> int:
    """Runs ``iptables -w <args>`` and returns its exit status (stderr is discarded)."""
    command = [iptables_path(), "-w", *args]
    return subprocess.run(command, capture_output=True, check=False).returncode


class FirewallError(RuntimeError):
    """An iptables command the firewall needs failed: pods here would not be isolated."""


@dataclass(frozen=True)
class Rule:
    chain: str
    spec: tuple[str, ...]


@dataclass(frozen=True)
class PodFirewall:
    """The rules for pod bridges named ``bridge_prefix*``, in chains named ``chain_prefix-*``."""

    bridge_prefix: str = "tnp"
    forward_hook: str = "DOCKER-USER"
    chain_prefix: str = "TENANTRY"

    @property
    def forward_chain(self) -> str:
        return f"{self.chain_prefix}-PODS-FWD"

    @property
    def input_chain(self) -> str:
        return f"{self.chain_prefix}-PODS-IN"

    def rules(self) -> list[Rule]:
        """Our chains' rules, in order (first match wins)."""
        pods = f"{self.bridge_prefix}+"
        fwd, inp = self.forward_chain, self.input_chain
        return [
            # Same bridge (one account): seen here only with br_netfilter; let it pass.
            Rule(fwd, ("-i", pods, "-o", pods, "-m", "physdev", "--physdev-is-bridged",
                       "-j", "RETURN")),
            Rule(fwd, ("-i", pods, "-o", pods, "-j", "DROP")),
            Rule(fwd, ("-i", pods, "-d", LINK_LOCAL, "-j", "DROP")),
            Rule(inp, ("-i", pods, "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED",
                       "-j", "RETURN")),
            Rule(inp, ("-i", pods, "-j", "DROP")),
        ]  # fmt: skip

    def hooks(self) -> list[Rule]:
        """The jumps into our chains, each first in its built-in (or Docker's) chain."""
        return [
            Rule(self.forward_hook, ("-j", self.forward_chain)),
            Rule("INPUT", ("-j", self.input_chain)),
        ]

    def ensure(self, run: Runner = run_iptables) -> list[Rule]:
        """Installs what is missing; returns the rules it added. FirewallError on failure."""
        added: list[Rule] = []
        for chain in (self.forward_chain, self.input_chain):
            if run(["-n", "-L", chain]) != 0:
                _must(run, ["-N", chain])
        for rule in self.rules():
            if run(["-C", rule.chain, *rule.spec]) != 0:
                _must(run, ["-A", rule.chain, *rule.spec])
                added.append(rule)
        for hook in self.hooks():
            if run(["-C", hook.chain, *hook.spec]) != 0:
                _must(run, ["-I", hook.chain, "1", *hook.spec])
                added.append(hook)
        return added

    def missing(self, run: Runner = run_iptables) -> list[Rule]:
        """The rules and hooks not in place now (empty: pods here are fenced in)."""
        return [r for r in [*self.rules(), *self.hooks()] if run(["-C", r.chain, *r.spec]) != 0]

    def remove(self, run: Runner = run_iptables) -> None:
        """Takes out the hooks, then flushes and deletes our chains; absent parts are fine."""
        for hook in self.hooks():
            while run(["-C", hook.chain, *hook.spec]) == 0:
                _must(run, ["-D", hook.chain, *hook.spec])
        for chain in (self.forward_chain, self.input_chain):
            if run(["-n", "-L", chain]) == 0:
                _must(run, ["-F", chain])
                _must(run, ["-X", chain])

    def packets(self, rule: Rule) -> int:
        """Packets ``rule`` (one of ``rules()``) has matched so far: proof it is in the path."""
        position = [r for r in self.rules() if r.chain == rule.chain].index(rule) + 1
        listing = subprocess.run(
            [iptables_path(), "-w", "-n", "-v", "-x", "-L", rule.chain, str(position)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return int(listing.split()[0])


def _must(run: Runner, args: list[str]) -> None:
    status = run(args)
    if status != 0:
        raise FirewallError(f"iptables {' '.join(args)} failed with status {status}")


def ensure_pod_firewall(bridge_prefix: str, *, docker_manages_iptables: bool = True) -> None:
    """What the host agent calls at start: the pod firewall in place, or FirewallError.

    Docker with its own iptables (every real host) has ``DOCKER-USER``; a daemon run
    with ``--iptables=false`` (the dev and test daemons) has not, so the hook is FORWARD.
    """
    hook = "DOCKER-USER" if docker_manages_iptables else "FORWARD"
    firewall = PodFirewall(bridge_prefix=bridge_prefix, forward_hook=hook)
    firewall.ensure()
    left = firewall.missing()
    if left:
        raise FirewallError(f"pod firewall incomplete after install: {left}")
