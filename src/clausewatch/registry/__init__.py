"""The `declare` stage: which platforms and documents to watch, read from registry files.

Public interface: the models, `load_registry` and friends (loader), the vocabularies, and the Open
Terms Archive importer. docs/registry.md describes the file format.
"""

from clausewatch.registry.errors import RegistryError, RegistryIssue
from clausewatch.registry.loader import (
    dump_platform,
    iter_documents,
    load_platform_file,
    load_registry,
    load_starter_registry,
    parse_platform,
    platform_data,
    starter_registry_path,
    write_registry,
)
from clausewatch.registry.models import (
    DocumentDeclaration,
    Fetcher,
    PlatformDeclaration,
    RangeSelector,
    Selector,
    SourceDeclaration,
)
from clausewatch.registry.ota import (
    OtaImportResult,
    SkippedItem,
    import_ota_declaration,
    import_ota_declarations,
)
from clausewatch.registry.vocabulary import CATEGORIES, DOCUMENT_TYPES, resolve_document_type

__all__ = [
    "CATEGORIES",
    "DOCUMENT_TYPES",
    "DocumentDeclaration",
    "Fetcher",
    "OtaImportResult",
    "PlatformDeclaration",
    "RangeSelector",
    "RegistryError",
    "RegistryIssue",
    "Selector",
    "SkippedItem",
    "SourceDeclaration",
    "dump_platform",
    "import_ota_declaration",
    "import_ota_declarations",
    "iter_documents",
    "load_platform_file",
    "load_registry",
    "load_starter_registry",
    "parse_platform",
    "platform_data",
    "resolve_document_type",
    "starter_registry_path",
    "write_registry",
]
