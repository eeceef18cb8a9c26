"""Copies as students disguise them, for the similarity tests and benchmark: the same answer with
its own names renamed and laid out anew, and written answers reworded in small ways."""

import ast
import builtins
import random
import re

# Other names a student might give a variable.
NAMES = ["value", "tmp", "result", "out", "t", "grad_value", "slope", "acc", "total", "step_size", "inner", "term"]


class Rename(ast.NodeTransformer):
    """Renames the names an answer binds itself (parameters, assigned variables, loop variables),
    never a function's name, an attribute, a keyword argument or a module-level name it reads."""

    def __init__(self, mapping: dict[str, str]):
        self.mapping = mapping

    def visit_Name(self, node: ast.Name) -> ast.Name:
        node.id = self.mapping.get(node.id, node.id)
        return node

    def visit_arg(self, node: ast.arg) -> ast.arg:
        node.arg = self.mapping.get(node.arg, node.arg)
        return node


def bound_names(tree: ast.AST) -> list[str]:
    found = {a.arg for node in ast.walk(tree) if isinstance(node, ast.FunctionDef) for a in node.args.args}
    found |= {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    return sorted(found - set(dir(builtins)))


def disguise(code: str, seed: int) -> str:
    """`code` renamed and reformatted: what a copy looks like after a student 'made it their own'.
    Keeps its meaning: the renamed answer computes what the original does."""
    rng = random.Random(seed)
    tree = ast.parse(code)
    names = bound_names(tree)
    fresh = rng.sample([n for n in NAMES if n not in names], k=min(len(names), len(NAMES)))
    mapping = {old: f"{new}{rng.randint(1, 9)}" for old, new in zip(names, fresh)}
    text = ast.unparse(Rename(mapping).visit(tree))  # new layout: spaces, brackets, quotes, no comments
    lines = text.splitlines()
    at = rng.randrange(1, len(lines) + 1)
    indent = re.match(r"\s*", lines[at - 1]).group()
    return "\n".join([*lines[:at], f"{indent}# worked this out myself", *lines[at:]]) + "\n"


def reword(text: str, seed: int) -> str:
    """A written answer copied with small changes: new line breaks, capitals and punctuation."""
    rng = random.Random(seed)
    words = text.replace("\n", " ").split(" ")
    out = []
    for word in words:
        if rng.random() < 0.1:
            word = word.upper() if rng.random() < 0.5 else word.lower()
        out.append(word + ("\n" if rng.random() < 0.08 else " "))
    return "".join(out).replace(", ", " ; ").strip()


# Written answers to 03_computation_graph's question (why x.grad is 14, not 7), each its own way.
EXPLANATIONS = [
    "Autograd starts at z, where dz/dz is one, and multiplies the local derivatives on its way down the graph: "
    "two for the multiplication and seven for the square, fourteen in all.",
    "x.grad holds the derivative of the output z with respect to x. The chain rule gives dz/dy times dy/dx, "
    "that is 2 times 2x, which at x = 3.5 is 14. The 7 is only dy/dx.",
    "Because backward() was called on z, not on y. So the gradient of z flows back through y: it is multiplied "
    "by 2 at the MulBackward node and by 7 at PowBackward, giving 14.",
    "Each backward node multiplies the incoming gradient by its own derivative. From z down to x these are 2 and "
    "then 2x = 7. Their product, 14, is what AccumulateGrad stores in x.grad.",
    "We differentiate z, the last tensor, and the graph chains the steps: z = 2y + 3 contributes 2 and y = x "
    "squared contributes 2x, which is 7 here; 2 * 7 = 14 is dz/dx and not dy/dx.",
    "The number is 14 since x.grad is dz/dx. dy/dx = 7 would be what we get from y.backward(). Starting from z "
    "we also pass through the times-two node, so the gradient doubles to 14.",
    "Fourteen, because the gradient that reaches x is the product along the whole path from z: the derivative of "
    "2y + 3 with respect to y, 2, times the derivative of x squared, 2 * 3.5 = 7.",
    "backward() computes the derivative of the tensor it is called on. Here that is z, so x.grad = dz/dx = "
    "dz/dy * dy/dx = 2 * 7. Seven alone is the slope of y, an intermediate result.",
]
