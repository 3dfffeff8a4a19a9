"""template.yaml is valid, builds on this machine, and every built function imports its handler."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from datetime import timedelta
from pathlib import Path

import pytest

from local import template

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ENV = {**os.environ, "SAM_CLI_TELEMETRY": "0"}


def run(*command: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 (our own tools, fixed arguments)
        command, cwd=cwd, env=ENV, capture_output=True, text=True, timeout=600, check=False
    )


CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"


def test_cfn_lint_passes() -> None:
    result = run(str(BIN / "cfn-lint"), "template.yaml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_cfn_lint_runs_the_serverless_rules(tmp_path: Path) -> None:
    # Given a function with no log group of its own, linted with the project's .cfnlintrc
    bare = tmp_path / "bare.yaml"
    bare.write_text(
        "Transform: AWS::Serverless-2016-10-31\n"
        "Resources:\n"
        "  Bare:\n"
        "    Type: AWS::Serverless::Function\n"
        "    Properties: {Runtime: python3.13, Handler: app.handler, InlineCode: x}\n",
        encoding="utf-8",
    )
    result = run(str(BIN / "cfn-lint"), str(bare))
    # Then the serverless rule about log retention speaks
    assert "WS1004" in result.stdout, result.stdout + result.stderr


def test_checkov_finds_nothing_and_every_suppression_says_why() -> None:
    assert CHECKOV.exists(), "checkov lives in .venv-checkov: run `make checkov-venv`"
    result = run(
        str(CHECKOV),
        *("--file", "template.yaml", "--framework", "cloudformation"),
        *("--skip-download", "--output", "json"),
    )
    report = json.loads(result.stdout)
    failed = [
        f"{check['check_id']} {check['resource']}" for check in report["results"]["failed_checks"]
    ]
    assert result.returncode == 0 and not failed, "\n".join(failed) or result.stderr
    assert report["summary"]["parsing_errors"] == 0 and report["summary"]["passed"] > 50
    skipped = report["results"]["skipped_checks"]
    assert skipped and all(
        len(check["check_result"].get("suppress_comment", "")) > 40 for check in skipped
    )


def test_every_log_group_keeps_logs_for_the_retention_parameter() -> None:
    resources = template.load()["Resources"]
    groups = template.resources("AWS::Logs::LogGroup")
    named = {
        props["LogGroupName"]["Fn::Sub"] for props in groups.values() if "LogGroupName" in props
    }
    # One per function, under the name Lambda writes to, and the API's access log
    assert named == {f"/aws/lambda/${{{name}}}" for name in template.functions()}
    access_log = resources["OptoutApi"]["Properties"]["AccessLogSetting"]["DestinationArn"]
    assert access_log == {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}
    assert all(props["RetentionInDays"] == {"Ref": "LogRetentionDays"} for props in groups.values())
    retention = template.load()["Parameters"]["LogRetentionDays"]
    assert retention["Default"] == 30 and 3653 in retention["AllowedValues"]


def test_every_dead_letter_queue_raises_an_alarm_on_the_alarm_topic() -> None:
    resources = template.load()["Resources"]
    alarmed = {
        props["Dimensions"][0]["Value"]["Fn::GetAtt"][0]
        for props in template.resources("AWS::CloudWatch::Alarm").values()
        if props.get("Namespace") == "AWS/SQS" and props["AlarmActions"] == [{"Ref": "AlarmTopic"}]
    }
    redrive_targets = {
        props["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        for props in template.queue_definitions().values()
        if "RedrivePolicy" in props
    }
    failure_targets = set()
    for function in template.functions().values():
        properties = resources[function.logical_id]["Properties"]
        on_failure = properties.get("EventInvokeConfig", {}).get("DestinationConfig", {})
        if on_failure:
            failure_targets.add(on_failure["OnFailure"]["Destination"]["Fn::GetAtt"][0])
        for event in function.events.values():
            for key in ("RedrivePolicy", "DeadLetterConfig"):
                target = event["Properties"].get(key)
                if target:
                    arn = target.get("deadLetterTargetArn", target.get("Arn"))
                    failure_targets.add(arn["Fn::GetAtt"][0])
    dead_letter_queues = redrive_targets | failure_targets
    assert dead_letter_queues == {
        name for name in template.queue_definitions() if "DeadLetter" in name
    }
    assert dead_letter_queues <= alarmed


def test_every_asynchronous_invocation_has_somewhere_to_fail_to() -> None:
    resources = template.load()["Resources"]
    for function in template.functions().values():
        properties = resources[function.logical_id]["Properties"]
        for name, event in function.events.items():
            if event["Type"] in ("SNS", "Schedule"):
                # Lambda's own retries end in the on-failure destination...
                assert "OnFailure" in properties["EventInvokeConfig"]["DestinationConfig"], name
                # ...and what SNS or EventBridge cannot deliver has a dead-letter queue too
                key = "RedrivePolicy" if event["Type"] == "SNS" else "DeadLetterConfig"
                assert key in event["Properties"], (function.logical_id, name)


def test_sam_validate_lint_passes() -> None:
    result = run(
        str(BIN / "sam"),
        "validate",
        "--lint",
        "--template",
        "template.yaml",
        "--region",
        "eu-west-1",
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_function_and_route_of_the_contract_is_declared() -> None:
    routes = {(route.method, route.path) for route in template.routes()}
    assert {
        ("GET", "/subscribe"),
        ("POST", "/subscribe"),
        ("GET", "/confirm/{token}"),
        ("POST", "/confirm/{token}"),
    } <= routes
    assert {("POST", "/webhooks/policy-change")} <= routes
    assert template.queue_consumers() == {
        "NoticeQueue": "NotifierFunction",
        "FanoutQueue": "FanoutFunction",
        "SendQueue": "SenderFunction",
        "EventsQueue": "EventsFunction",
    }
    assert {name: schedule.period for name, schedule in template.scheduled_functions().items()} == {
        "SchedulerFunction": timedelta(minutes=5),
        "WatcherFunction": timedelta(hours=1),
    }


def distributions(site: Path) -> set[str]:
    """The distributions installed in a folder, by normalised name."""
    return {path.name.split("-")[0].lower().replace("_", "-") for path in site.glob("*.dist-info")}


@pytest.mark.slow
def test_sam_build_produces_functions_that_import_their_handlers(tmp_path: Path) -> None:
    build_dir = tmp_path / "build"
    result = run(
        str(BIN / "sam"), "build", "--template", "template.yaml", "--build-dir", str(build_dir)
    )
    assert result.returncode == 0, result.stdout + result.stderr
    dependencies, shared = (
        build_dir / "DependenciesLayer" / "python",
        build_dir / "SharedLayer" / "python",
    )
    assert (shared / "optout" / "templates").is_dir() and (shared / "optout" / "schemas").is_dir()
    # The dependencies layer holds wheels for Lambda's Python 3.13 on arm64, whose compiled parts
    # (rpds-py under jsonschema) this interpreter cannot load. So the same requirements are
    # installed for this interpreter too, and must come to the same distributions.
    twin = tmp_path / "twin"
    requirements = (build_dir / ".." / "requirements.txt").resolve()
    requirements.write_text(
        "\n".join(
            tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
                "dependencies"
            ]
        )
    )
    installed = run(
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--only-binary=:all:",
        "--target",
        str(twin),
        "-r",
        str(requirements),
    )
    assert installed.returncode == 0, installed.stderr
    assert distributions(twin) == distributions(dependencies)
    for name, function in template.functions().items():
        module, handler = function.handler.split(".")
        # -I: nothing from this machine's site-packages, only the function and its layers.
        probe = (
            "import sys; sys.path[:0] = sys.argv[1:]; "
            f"import {module}; assert callable({module}.{handler}); print({module}.__file__)"
        )
        imported = run(
            sys.executable, "-I", "-c", probe, ".", str(shared), str(twin), cwd=build_dir / name
        )
        assert imported.returncode == 0, f"{name}: {imported.stderr}"
        assert imported.stdout.strip() == str(build_dir / name / f"{module}.py")


def test_samconfig_leaves_the_required_parameters_to_the_guided_deploy() -> None:
    deploy = tomllib.loads((ROOT / "samconfig.toml").read_text(encoding="utf-8"))["default"][
        "deploy"
    ]["parameters"]
    overrides = dict(
        pair.split("=", 1) for pair in deploy["parameter_overrides"].replace('"', "").split()
    )
    declared = template.load()["Parameters"]
    required = {name for name, spec in declared.items() if "Default" not in spec}
    assert required == {"SenderAddress", "OrganisationAddress"}
    # Every override is a parameter of the template, and none is one only the operator knows
    assert set(overrides) <= set(declared) and not set(overrides) & required
    assert deploy["capabilities"] == "CAPABILITY_IAM" and deploy["confirm_changeset"] is True


KEY = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


@pytest.mark.parametrize("key", ["", KEY], ids=["aws-managed", "customer-key"])
def test_topics_and_queues_are_encrypted_with_keys_their_publishers_may_use(key: str) -> None:
    declared = template.load()["Parameters"]
    values = {name: str(spec.get("Default", "")) for name, spec in declared.items()}
    deployment = template.Deployment(
        "optout", "eu-west-1", "123456789012", {**values, "EncryptionKeyArn": key}, {}, {}
    )
    # Topics that SES, the SMS service and CloudWatch publish to: never alias/aws/sns, whose
    # policy cannot let them; the customer key, or else the stack's own key, which lets them
    topic_keys = {
        deployment.resolve(props["KmsMasterKeyId"])
        for props in template.resources("AWS::SNS::Topic").values()
    }
    assert topic_keys == {key or "optout-TopicKey"}
    statement = template.resources("AWS::KMS::Key")["TopicKey"]["KeyPolicy"]["Statement"][1]
    assert set(statement["Principal"]["Service"]) == {
        "ses.amazonaws.com",
        "sms-voice.amazonaws.com",
        "cloudwatch.amazonaws.com",
    }
    assert set(statement["Action"]) == {"kms:GenerateDataKey*", "kms:Decrypt"}
    # Queues that SNS and EventBridge send to: SSE-SQS, or the customer key; never alias/aws/sqs
    for name, props in template.queue_definitions().items():
        resolved = deployment.resolve(props)
        if key:
            assert resolved["KmsMasterKeyId"] == key and not resolved["SqsManagedSseEnabled"], name
        else:
            assert resolved["SqsManagedSseEnabled"] is True and "KmsMasterKeyId" not in resolved


def test_every_alarm_on_the_bot_s_own_metrics_watches_one_the_code_emits() -> None:
    # An alarm on a metric nobody emits never fires: its name must be one the layer adds.
    layer = ROOT / "layers/optout/python/optout"
    emitted = " ".join(path.read_text(encoding="utf-8") for path in layer.rglob("*.py"))
    watched = {
        props["MetricName"]
        for props in template.resources("AWS::CloudWatch::Alarm").values()
        if props.get("Namespace") == "OptoutBot"
    }
    assert {"DailyQuotaExceeded", "TextsHeldBack"} <= watched
    assert [name for name in sorted(watched) if f'name="{name}"' not in emitted] == []
