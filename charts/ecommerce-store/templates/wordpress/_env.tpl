{{/*
Database settings of WordPress, shared by the wordpress and wp-cli containers: the image's
wp-config.php reads them from the environment at run time, so `wp` in the sidecar reaches the
same database. The password comes from the store's Secret, never from values.
*/}}
{{- define "store.wordpressDbEnv" -}}
- name: WORDPRESS_DB_HOST
  value: mariadb:3306
- name: WORDPRESS_DB_NAME
  value: wordpress
- name: WORDPRESS_DB_USER
  value: wordpress
- name: WORDPRESS_DB_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .Values.existingSecret }}
      key: mariadb-password
- name: WORDPRESS_TABLE_PREFIX
  value: wp_
{{- end -}}
