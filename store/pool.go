package store

import "github.com/jmoiron/sqlx"

// SetPoolSize sets how many connections db opens at most (DATABASE_MAX_CONNS), and keeps half of
// them open while idle: enough for a burst of short queries without reconnecting, few enough to
// leave the server's connections to the other processes.
func SetPoolSize(db *sqlx.DB, maxOpen int) {
	db.SetMaxOpenConns(maxOpen)
	db.SetMaxIdleConns(max(maxOpen/2, 1))
}
