"""Template variables, resolved the way Ansible (ansible-core 2.19) resolves them.

A value may reference other variables ("/run/{{ app_name }}"). A string that is one whole
expression ("{{ daphne_instances + 1 }}") keeps the expression's type (int, list, bool...);
anything else renders to a string, with None rendered as "" (Ansible's finalize). A variable
that cannot be resolved (it needs a secret nobody gave) is not an error until a template uses
it: Ansible is lazy too.
"""

import re

import jinja2
from jinja2 import meta

# The hint of a value whose expression failed on the values it was given (a division by zero).
CANNOT_BE_COMPUTED = "cannot be computed from the values given"
WHOLE_EXPRESSION = re.compile(r"^\{\{(?P<expression>(?:(?!\{\{|\}\}).)*)\}\}$", re.S)


class VariableError(Exception):
    pass


def environment(loader=None):
    """The Jinja settings of Ansible's template module: trim_blocks on, lstrip_blocks off,
    trailing newline kept, None printed as "". Undefined variables are errors."""
    return jinja2.Environment(
        loader=loader,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        keep_trailing_newline=True,
        finalize=lambda value: "" if value is None else value,
        autoescape=False,  # noqa: S701 - config files, not HTML
    )


def is_template(value):
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def resolve(raw, missing_hints=None):
    """{name: value} with every reference resolved. A name that fails to resolve maps to a
    StrictUndefined that raises, with the reason, wherever a template uses it; names in
    missing_hints (the secrets) that nobody set do the same with their hint."""
    env = environment()
    resolved = {}
    undefined = {
        name: jinja2.StrictUndefined(hint=hint, name=name) for name, hint in (missing_hints or {}).items()
    }

    def lookup(name, chain):
        if name in resolved:
            return resolved[name]
        if name not in raw:
            return undefined.get(name, jinja2.StrictUndefined(name=name))
        if name in chain:
            raise VariableError(f"variables reference each other in a loop: {' -> '.join([*chain, name])}")
        try:
            resolved[name] = value_of(raw[name], [*chain, name])
        except jinja2.UndefinedError as error:
            resolved[name] = jinja2.StrictUndefined(hint=f"{name} cannot be resolved: {error}", name=name)
        except (ArithmeticError, TypeError, ValueError) as error:
            # A value another one makes impossible (daphne_instances: 0 in "x // daphne_instances"):
            # lazy like a missing secret, and the rules say which value to change.
            resolved[name] = jinja2.StrictUndefined(hint=f"{name} {CANNOT_BE_COMPUTED}: {error}", name=name)
        except jinja2.TemplateError as error:
            raise VariableError(f"{name}: {error}") from error
        return resolved[name]

    def value_of(value, chain):
        if isinstance(value, list):
            return [value_of(item, chain) for item in value]
        if isinstance(value, dict):
            return {key: value_of(item, chain) for key, item in value.items()}
        if not is_template(value):
            return value
        context = {name: lookup(name, chain) for name in meta.find_undeclared_variables(env.parse(value))}
        whole = WHOLE_EXPRESSION.match(value.strip())
        if whole and value == value.strip():
            result = env.compile_expression(whole["expression"], undefined_to_none=False)(**context)
            if isinstance(result, jinja2.Undefined):
                str(result)  # raises UndefinedError with its hint
            return result
        return env.from_string(value).render(context)

    for name in raw:
        lookup(name, [])
    return {**undefined, **resolved}
