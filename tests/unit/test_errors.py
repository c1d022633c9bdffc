"""The failures that come with a result (the steps, the output, the cells, the tasks so far)
take it as ``result=`` and keep it."""

from __future__ import annotations

from docker_magics import errors

WITH_RESULT = [
    cls
    for cls in vars(errors).values()
    if isinstance(cls, type)
    and issubclass(cls, errors.DockerMagicsError)
    and "``result``" in (cls.__doc__ or "")
]


def test_the_failures_with_a_result_keep_it():
    names = {cls.__name__ for cls in WITH_RESULT}
    assert names >= {"BuildFailed", "RunFailed", "NotebookFailed", "JobFailed"}
    for cls in WITH_RESULT:
        result = object()
        error = cls("It failed", "Look at the result", result=result)
        assert error.result is result, cls
        assert str(error) == "It failed. Look at the result.", cls
