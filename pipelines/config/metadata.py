"""``metadata:``: where ML Metadata lives (a SQLite file or MySQL/MariaDB)."""
from __future__ import annotations

from typing import Optional

from pydantic import Field, model_validator

from .base import _Strict


class MySQL(_Strict):
    """MLMD in MySQL/MariaDB. The password never goes in the YAML: ``password_env`` names
    the environment variable that holds it."""

    host: str = "127.0.0.1"
    port: int = Field(3306, ge=1, le=65535)
    database: str = Field(pattern=r"^[A-Za-z0-9_]{1,64}$")
    user: str = "root"
    password_env: Optional[str] = Field(None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    socket: Optional[str] = None            # a Unix socket instead of host:port
    create_database: bool = True            # CREATE DATABASE IF NOT EXISTS on first use
    connect_timeout_s: float = Field(5.0, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _no_password(cls, data):
        if isinstance(data, dict) and "password" in data:
            raise ValueError("password: a password never goes in the config; put it in an "
                             "environment variable and name it in password_env")
        return data

    @property
    def address(self) -> str:
        """user@host:port/database, never the password."""
        where = self.socket or f"{self.host}:{self.port}"
        return f"mysql://{self.user}@{where}/{self.database}"


class Metadata(_Strict):
    """Where ML Metadata lives: exactly one of ``sqlite`` (a file, the default
    ``.tfxkit/metadata.sqlite``) or ``mysql`` (a server). A profile that switches to MySQL
    over a base config that names a sqlite file sets ``sqlite: null``."""

    sqlite: Optional[str] = None
    mysql: Optional[MySQL] = None

    @model_validator(mode="after")
    def _one(self):
        if self.sqlite and self.mysql:
            raise ValueError("give exactly one of sqlite, mysql (got both; a profile that "
                             "switches to mysql sets sqlite: null)")
        if not self.mysql and not self.sqlite:
            self.sqlite = ".tfxkit/metadata.sqlite"
        return self

    @property
    def kind(self) -> str:
        return "mysql" if self.mysql else "sqlite"
