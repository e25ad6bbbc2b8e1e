// Managed Identity Operator for the app on one user-assigned identity that tenants may give their pools:
// ARM lets a caller attach an identity to a resource (here a Batch pool) only with
// Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action on that identity.
param identityName string
param appPrincipalId string

// Built-in role id (test/fixtures/azure/pool-grant-roles.json; Azure docs, "Azure built-in roles for Identity").
var managedIdentityOperator = 'f1a07417-d97a-45cb-824c-7a7467783830'

resource poolIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' existing = {
  name: identityName
}

resource assignIdentity 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(poolIdentity.id, appPrincipalId, managedIdentityOperator)
  scope: poolIdentity
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', managedIdentityOperator)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}
