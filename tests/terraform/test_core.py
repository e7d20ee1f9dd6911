"""terraform fmt over everything, and the provider-free core module: init (no backend, no
provider), validate, and its own `terraform test` files (terraform/modules/core/tests/)."""

from ops.tools import REPO_DIR

from .conftest import check, copy_tree, run


def test_fmt(terraform):
    binary, env = terraform
    result = run([binary, "fmt", "-check", "-recursive", "-diff", "terraform/", "tests/terraform/"], REPO_DIR, env)
    hint = "run `terraform fmt -recursive terraform/ tests/terraform/`"
    assert result.returncode == 0, f"{hint}:\n{result.stdout}{result.stderr}"


def test_core_validate_and_test(terraform, tmp_path):
    binary, env = terraform
    workdir = copy_tree(tmp_path, "terraform/modules/core") / "terraform/modules/core"
    check(run([binary, "init", "-backend=false", "-no-color"], workdir, env))
    check(run([binary, "validate", "-no-color"], workdir, env))
    result = check(run([binary, "test", "-no-color"], workdir, env))
    assert "0 failed" in result.stdout and " passed" in result.stdout, result.stdout
    assert not (REPO_DIR / "terraform/modules/core/.terraform").exists()


def test_core_defaults_match_the_cluster_group_vars_and_daphne(rendered):
    """The ports the core opens are the ports the cluster inventory makes the web hosts
    listen on, and the idle timeout is checked against daphne's real ping interval."""
    import yaml

    group_vars = yaml.safe_load((REPO_DIR / "ansible/inventories/cluster/group_vars/all/main.yml").read_text())
    defaults = yaml.safe_load((REPO_DIR / "ops/defaults.yml").read_text())
    ports = rendered["app_ports"]
    for name in ("daphne_instances", "daphne_tcp_port", "http_tcp_port"):
        assert ports[name] == group_vars[name], name
    assert ports["websocket_ping_interval"] == defaults["daphne_ping_interval"]
    assert rendered["load_balancer"]["idle_timeout"] > defaults["daphne_ping_interval"]
    assert rendered["load_balancer"]["health_check_path"] == "/healthz"
