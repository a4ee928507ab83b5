"""The file-drop connector: CSV and JSONL exports dropped in a folder."""

from canalis.connectors.file_drop.connector import FileDropConnector

CONNECTOR = FileDropConnector

__all__ = ["CONNECTOR", "FileDropConnector"]
