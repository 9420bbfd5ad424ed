package config

import (
	"errors"
	"flag"
	"fmt"
	"net/url"
)

// Files is where attachments' bytes go and how big they may be.
type Files struct {
	// Dir keeps files on this node's disk (default: "files" beside the
	// SQLite file). With S3Endpoint set the bucket is used instead, as
	// several nodes need.
	Dir        string
	MaxBytes   int64
	DailyQuota int64
	S3Endpoint string
	S3Bucket   string
	S3Region   string
	// The S3 credentials come only from SERVICEDESK_S3_ACCESS_KEY /
	// SERVICEDESK_S3_SECRET_KEY or their _FILE variants: a flag would
	// show in ps.
	S3AccessKey, S3SecretKey string
}

// Defaults: attachment.DefaultMaxBytes and attachment.DefaultDailyQuota.
const (
	DefaultMaxAttachmentBytes = 20 << 20
	DefaultUploadQuotaBytes   = 500 << 20
)

func (f *Files) flags(fs *flag.FlagSet) {
	fs.StringVar(&f.Dir, "files-dir", "", "directory for attachments on this node (default: \"files\" beside --db)")
	fs.Int64Var(&f.MaxBytes, "max-attachment-bytes", DefaultMaxAttachmentBytes, "largest file a message may carry, in bytes")
	fs.Int64Var(&f.DailyQuota, "upload-quota-bytes", DefaultUploadQuotaBytes, "bytes one person may upload in any 24 hours")
	fs.StringVar(&f.S3Endpoint, "s3-endpoint", "", "S3-compatible object storage for attachments (https://s3.example.com), for several nodes; credentials from "+
		EnvPrefix+"S3_ACCESS_KEY and "+EnvPrefix+"S3_SECRET_KEY (or their _FILE variants)")
	fs.StringVar(&f.S3Bucket, "s3-bucket", "servicedesk", "the bucket attachments go to (made when missing)")
	fs.StringVar(&f.S3Region, "s3-region", "", "the bucket's region, when the service needs one")
}

// credentials reads the S3 keys from the environment.
func (f *Files) credentials(getenv func(string) string) error {
	for _, k := range []struct {
		name string
		dst  *string
	}{{"S3_ACCESS_KEY", &f.S3AccessKey}, {"S3_SECRET_KEY", &f.S3SecretKey}} {
		v, err := secretEnv(getenv, k.name)
		if err != nil {
			return err
		}
		*k.dst = v
	}
	return nil
}

func (f Files) validate() error {
	var errs []error
	if f.MaxBytes < 1024 {
		errs = append(errs, errors.New("--max-attachment-bytes must be at least 1024"))
	}
	if f.DailyQuota < f.MaxBytes {
		errs = append(errs, errors.New("--upload-quota-bytes must be at least --max-attachment-bytes"))
	}
	if f.S3Endpoint != "" {
		if u, err := url.Parse(f.S3Endpoint); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			errs = append(errs, fmt.Errorf("--s3-endpoint %q must be an http(s) URL", f.S3Endpoint))
		}
		if f.S3Bucket == "" {
			errs = append(errs, errors.New("--s3-bucket must not be empty"))
		}
		if f.S3AccessKey == "" || f.S3SecretKey == "" {
			errs = append(errs, fmt.Errorf("--s3-endpoint needs %sS3_ACCESS_KEY and %sS3_SECRET_KEY", EnvPrefix, EnvPrefix))
		}
	}
	return errors.Join(errs...)
}
