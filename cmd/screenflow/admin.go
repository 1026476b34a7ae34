package main

import (
	"context"
	"fmt"
	"io"

	"github.com/screenflow/screenflow/migrations"
	"github.com/screenflow/screenflow/store"
)

func runMigrate(ctx context.Context, cfg config, stdout io.Writer) error {
	db, err := cfg.openDatabase(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := migrations.Up(ctx, db.DB); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "migrations applied")
	return nil
}

func runTenantCreate(ctx context.Context, cfg config, name string, stdout io.Writer) error {
	db, err := cfg.openDatabase(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	tenant, key, err := store.New(db).CreateTenant(ctx, name)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "tenant %s (%s) created.\nAPI key id (names the key in the audit log): %s\nAPI key (shown once, only its hash is stored):\n%s\n",
		tenant.Name, tenant.ID, tenant.KeyID, key)
	return nil
}
