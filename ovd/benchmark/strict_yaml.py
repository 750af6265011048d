"""YAML for sweep specs, loaded strictly: a duplicated key is an error (PyYAML keeps the last one silently), an
unquoted ``1:30:00`` is an error (YAML 1.1 reads it as the number 5400), and a document whose aliases expand
beyond :data:`MAX_EXPANDED_NODES` nodes is refused before it is built (a 700-byte "billion laughs" spec took 39 s
and 1.3 GB to expand; one more level is ten times that).
"""
from typing import Any, Dict

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, SequenceNode

#: the most nodes a spec may have once every alias is expanded (real specs have a few hundred)
MAX_EXPANDED_NODES = 100_000


class YAMLInputError(ValueError):
    """A YAML document is malformed or refused; the message names the file, line and why."""


class _StrictLoader(yaml.SafeLoader):
    def construct_mapping(self, node: MappingNode, deep: bool = False) -> Dict[Any, Any]:
        seen: Dict[Any, Node] = {}
        for key_node, _ in node.value:
            if key_node.tag == 'tag:yaml.org,2002:merge':
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.get(key)
            except TypeError:  # an unhashable key; SafeLoader reports it
                continue
            if first is not None:
                raise ConstructorError(f'in the mapping starting at line {node.start_mark.line + 1}', None,
                                       f'duplicate key {key!r} (first at line {first.start_mark.line + 1})',
                                       key_node.start_mark)
            seen[key] = key_node
        return super().construct_mapping(node, deep)


    def construct_yaml_int(self, node):  # noqa: D102
        self._refuse_base60(node)
        return super().construct_yaml_int(node)

    def construct_yaml_float(self, node):  # noqa: D102
        self._refuse_base60(node)
        return super().construct_yaml_float(node)

    @staticmethod
    def _refuse_base60(node: Node) -> None:
        # YAML 1.1 reads an unquoted 1:30:00 as the number 5400: as a SLURM time limit that is 90 hours
        if ':' in str(node.value):
            raise ConstructorError(None, None, f'{node.value} reads as a base-60 number in YAML 1.1; quote it '
                                               f"('{node.value}')", node.start_mark)


_StrictLoader.add_constructor('tag:yaml.org,2002:int', _StrictLoader.construct_yaml_int)
_StrictLoader.add_constructor('tag:yaml.org,2002:float', _StrictLoader.construct_yaml_float)


def _expanded_size(root: Node, limit: int) -> int:
    """Nodes in the document with every alias expanded, counted without expanding (shared nodes memoised);
    stops counting past ``limit``."""
    sizes: Dict[int, int] = {}
    visiting = set()

    def size(node: Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in visiting:  # a recursive alias expands without end
            return limit + 1
        visiting.add(key)
        total = 1
        if isinstance(node, SequenceNode):
            children = node.value
        elif isinstance(node, MappingNode):
            children = [n for pair in node.value for n in pair]
        else:
            children = []
        for child in children:
            total += size(child)
            if total > limit:
                break
        visiting.discard(key)
        sizes[key] = min(total, limit + 1)
        return sizes[key]

    return size(root)


def load_yaml(text: str, path: str) -> Any:
    """Parse one YAML document strictly.

    Args:
        text: the document.
        path: its file, for messages.

    Returns:
        The parsed data (None for an empty document).

    Raises:
        YAMLInputError: malformed YAML, a duplicated key, or an alias expansion beyond the bound.
    """
    loader = _StrictLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if _expanded_size(node, MAX_EXPANDED_NODES) > MAX_EXPANDED_NODES:
            raise YAMLInputError(f'{path}: refused: its aliases expand to more than {MAX_EXPANDED_NODES} '
                                 f'nodes (an alias bomb?)')
        return loader.construct_document(node)
    except yaml.YAMLError as err:
        mark = getattr(err, 'problem_mark', None)
        where = f'line {mark.line + 1} column {mark.column + 1}: ' if mark is not None else ''
        problem = getattr(err, 'problem', None) or str(err)
        raise YAMLInputError(f'{path}: {where}not valid YAML: {problem}') from None
    except RecursionError:
        raise YAMLInputError(f'{path}: refused: nested too deeply') from None
    finally:
        loader.dispose()


__all__ = ['MAX_EXPANDED_NODES', 'YAMLInputError', 'load_yaml']
