"""Language detection from the command, and Go from the binary's build info."""

from __future__ import annotations

import shutil

import pytest

from sensor.model.language import Language, LanguageDetector, is_go_binary, language_of_command, normalise_name


@pytest.mark.parametrize(
    ("argv0", "filename", "expected"),
    [
        ("python3", "/usr/bin/python3.11", Language.PYTHON),
        ("/usr/local/bin/python", "", Language.PYTHON),
        ("py", "", Language.PYTHON),
        ("java", "/usr/lib/jvm/bin/java", Language.JAVA),
        ("javac", "/usr/bin/javac", Language.UNKNOWN),
        ("node", "/usr/bin/node", Language.NODE),
        ("npm", "", Language.NODE),
        ("dotnet", "/usr/bin/dotnet", Language.DOTNET),
        ("ruby3.2", "", Language.RUBY),
        ("rubyw", "", Language.RUBY),
        ("php-fpm8.2", "", Language.PHP),
        ("php", "", Language.PHP),
        ("-bash", "/bin/bash", Language.UNKNOWN),
        ("(python)", "", Language.PYTHON),
        ("sh", "/bin/sh", Language.UNKNOWN),
    ],
)
def test_language_of_command(argv0: str, filename: str, expected: Language) -> None:
    assert language_of_command(argv0, filename) is expected


def test_names_are_normalised_like_the_workload_meta_detector() -> None:
    assert [normalise_name(n) for n in ("'/usr/bin/Python3'", "-bash", "(node)")] == ["python3", "bash", "node"]


def test_java_running_jruby_is_ruby() -> None:
    detector = LanguageDetector()
    assert detector.detect(1, 1, "/usr/bin/java", ["java", "-cp", "jruby.jar", "org.jruby.Main"]) is Language.RUBY
    assert detector.detect(1, 1, "/usr/bin/java", ["java", "-jar", "app.jar"]) is Language.JAVA


def test_go_binaries_are_found_by_their_build_info_section() -> None:
    runc = shutil.which("runc")
    assert runc is not None, "runc (a Go program) is installed by scripts/test"
    assert is_go_binary(runc) is True
    assert is_go_binary("/bin/ls") is False
    assert is_go_binary("/no/such/file") is None
