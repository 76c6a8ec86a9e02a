"""placeholder"""


def spec_for(config): ...


class Checker: ...
