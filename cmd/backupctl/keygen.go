package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/pgtier/pgtier/cmd/internal/setup"
	"github.com/pgtier/pgtier/crypto"
)

func (a *app) keygenCmd() *cobra.Command {
	var signing, verify string
	cmd := &cobra.Command{
		Use:   "keygen --signing-key FILE --verify-key FILE",
		Short: "Make the key pair that signs and checks manifests",
		Long: "Make an ed25519 key pair: the signing key (mode 0600) for the daemon's\n" +
			"encryption.signing_key_file, and the verify key for every backupctl's\n" +
			"encryption.verify_key_file. Existing files are never overwritten.\n\n" +
			"Backups are encrypted with age, not with these keys: make each operator's age\n" +
			"identity with `age-keygen -o me.txt`, and put its public key (age1...) in the\n" +
			"daemon's encryption.recipients_file.",
		Args: noArgs,
		RunE: func(*cobra.Command, []string) error {
			if signing == "" || verify == "" {
				return setup.Usagef("give both --signing-key FILE and --verify-key FILE")
			}
			pub, err := crypto.WriteKeyPair(signing, verify)
			if err != nil {
				return setup.Usage(err)
			}
			fmt.Fprintf(a.stdout, "wrote %s (secret: the daemon's encryption.signing_key_file)\n", signing)
			fmt.Fprintf(a.stdout, "wrote %s (public key %s: encryption.verify_key_file)\n", verify, pub)
			fmt.Fprintln(a.stdout, "age identities for restores: age-keygen -o me.txt; add its public key to encryption.recipients_file")
			return nil
		},
	}
	cmd.Flags().StringVar(&signing, "signing-key", "", "where to write the signing key")
	cmd.Flags().StringVar(&verify, "verify-key", "", "where to write the verify key")
	return cmd
}
